package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/defaults"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	pb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/util/apicaps"
	"github.com/moby/buildkit/util/grpcerrors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// windowSize is the flow-control window the frontend's end of the gateway
// connection grants BuildKit. With gRPC's default (64 KiB, grown by its
// estimate of the link, which a pipe keeps small) a read of a big
// closure's path-info waited on a round trip every few dozen KiB: 43 ms
// for 728 KiB (2,001 paths), against 5 ms for a small file.
const windowSize = 16 << 20

// runFromEnvironment is grpcclient.RunFromEnvironment with larger
// flow-control windows: the same environment, stdio connection,
// interceptors and message limits, and BuildKit's own client on top.
func runFromEnvironment(ctx context.Context, f client.BuildFunc) error {
	if p := os.Getenv("BUILDKIT_EXPORTEDPRODUCT"); p != "" {
		apicaps.ExportedProduct = p
	}
	conn, err := grpc.NewClient("passthrough:///localhost",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			return stdioConn{os.Stdin, os.Stdout}, nil
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(grpcerrors.UnaryClientInterceptor),
		grpc.WithStreamInterceptor(grpcerrors.StreamClientInterceptor),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(defaults.DefaultMaxRecvMsgSize), grpc.MaxCallSendMsgSize(defaults.DefaultMaxSendMsgSize)),
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(windowSize),
	)
	if err != nil {
		return err
	}
	var workers []client.WorkerInfo
	_ = json.Unmarshal([]byte(os.Getenv("BUILDKIT_WORKERS")), &workers) // none listed is what BuildKit's client does too
	c, err := grpcclient.New(ctx, frontendOpts(os.Environ()), os.Getenv("BUILDKIT_SESSION_ID"), os.Getenv("BUILDKIT_EXPORTEDPRODUCT"), pb.NewLLBBridgeClient(conn), workers)
	if err != nil {
		return err
	}
	return c.Run(ctx, f)
}

// frontendOpts are the build's options, which BuildKit passes to a gateway
// frontend as BUILDKIT_FRONTEND_OPT_<n>=<key>=<value>.
func frontendOpts(environ []string) map[string]string {
	opts := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "BUILDKIT_FRONTEND_OPT_") {
			continue
		}
		key, val, _ := strings.Cut(v, "=")
		opts[key] = val
	}
	return opts
}

// stdioConn is the gateway connection: BuildKit speaks gRPC on the
// frontend's stdin and stdout.
type stdioConn struct {
	io.Reader
	io.WriteCloser
}

func (stdioConn) LocalAddr() net.Addr              { return stdioAddr{} }
func (stdioConn) RemoteAddr() net.Addr             { return stdioAddr{} }
func (stdioConn) SetDeadline(time.Time) error      { return nil }
func (stdioConn) SetReadDeadline(time.Time) error  { return nil }
func (stdioConn) SetWriteDeadline(time.Time) error { return nil }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "pipe" }
func (stdioAddr) String() string  { return "localhost" }
