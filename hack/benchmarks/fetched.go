package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// fetchLog is the bed's binary cache server's request log
// (NIXFILE_HTTP_LOG): what a build fetched from the cache is the lines it
// added. The bench runs one build at a time, so every line is that build's.
type fetchLog struct{ path string }

// fetched is what one build fetched: requests and bytes served.
type fetched struct {
	requests int
	bytes    int64
}

// offset is where the next build's lines start; -1 without a log.
func (l fetchLog) offset() int64 {
	fi, err := os.Stat(l.path)
	if l.path == "" || err != nil {
		return -1
	}
	return fi.Size()
}

// since sums the requests logged after off.
func (l fetchLog) since(off int64) fetched {
	var out fetched
	if off < 0 {
		return out
	}
	f, err := os.Open(l.path)
	if err != nil {
		return out
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		return out
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text()) // METHOD PATH STATUS BYTES
		if len(fs) != 4 {
			continue
		}
		n, _ := strconv.ParseInt(fs[3], 10, 64)
		out.requests++
		out.bytes += n
	}
	return out
}

// medianFetched is the median build by bytes.
func medianFetched(fs []fetched) fetched {
	if len(fs) == 0 {
		return fetched{}
	}
	bytes := make([]int64, len(fs))
	for i, f := range fs {
		bytes[i] = f.bytes
	}
	m := medianInt(bytes)
	for _, f := range fs {
		if f.bytes == m {
			return f
		}
	}
	return fetched{bytes: m}
}

func (t *table) fetched(metric string, o, b []fetched) {
	mo, mb := medianFetched(o), medianFetched(b)
	t.add(metric, fmt.Sprintf("%s in %d requests", humanBytes(mo.bytes), mo.requests),
		fmt.Sprintf("%s in %d requests", humanBytes(mb.bytes), mb.requests), ratio(float64(mo.bytes), float64(mb.bytes)))
}
