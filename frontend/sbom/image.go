package sbom

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"

	nixllb "github.com/nixfile/nixfile/llb"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// Copy is one COPY instruction of the Nixfile, as the frontend knows it:
// its text and where it puts its sources, not what they hold.
type Copy struct {
	// Instruction is the Nixfile's text, e.g. "COPY app.conf /etc/app/".
	Instruction string
	// Line names it, e.g. "line 4".
	Line string
	// Sources are the paths in the build context (or in From); Dest is the
	// absolute destination in the image.
	Sources []string
	Dest    string
	// From is COPY --from's name: a named build context or an image; empty
	// is the build context.
	From string
}

// rootfsID is the SPDX id of the package of the rootfs defaults.
const rootfsID = common.ElementID("nixfile-rootfs")

// rootfsPackage is the files the frontend writes outside the store (users,
// /tmp, CA bundle and /bin links): one package whose files it knows byte
// for byte, with their checksums. Symbolic links are files whose checksums
// are those of the link's target string (what a tar or git records of a
// link); directories, and files whose content comes from another step (the
// nix image's CA bundle), are named in the package's comment.
func rootfsPackage(entries []nixllb.Entry) (*spdx.Package, []*spdx.File) {
	entries = append([]nixllb.Entry(nil), entries...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	var (
		files        []*spdx.File
		dirs, others []string
		sha1s        []string
	)
	for _, e := range entries {
		var data []byte
		comment := ""
		switch e.Kind {
		case nixllb.FileEntry:
			data = e.Data
		case nixllb.SymlinkEntry:
			data = []byte(e.Target)
			comment = "a symbolic link to " + e.Target + "; its checksums are those of the target string"
		case nixllb.DirEntry:
			dirs = append(dirs, fmt.Sprintf("%s (mode %#o, owner %d:%d)", e.Path, uint32(e.Mode.Perm())|stickyBit(e), e.UID, e.GID))
			continue
		default:
			others = append(others, e.Path)
			continue
		}
		s1, s256 := sha1.Sum(data), sha256.Sum256(data)
		sha1s = append(sha1s, hex.EncodeToString(s1[:]))
		files = append(files, &spdx.File{
			FileName:           "." + e.Path,
			FileSPDXIdentifier: common.ElementID(fmt.Sprintf("nixfile-rootfs-%d%s", len(files), spdxIDChars(e.Path))),
			Checksums: []common.Checksum{
				{Algorithm: common.SHA1, Value: hex.EncodeToString(s1[:])},
				{Algorithm: common.SHA256, Value: hex.EncodeToString(s256[:])},
			},
			LicenseConcluded:   noAssertion,
			LicenseInfoInFiles: []string{noAssertion},
			FileCopyrightText:  noAssertion,
			FileComment:        comment,
		})
	}
	pkg := &spdx.Package{
		PackageName:               "nixfile rootfs",
		PackageSPDXIdentifier:     rootfsID,
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             true,
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PrimaryPackagePurpose:     "FILE",
		PackageComment:            "files the frontend writes outside /nix/store (ROOTFS defaults, WORKDIR)",
	}
	if len(dirs) > 0 {
		pkg.PackageComment += "; directories: " + strings.Join(dirs, ", ")
	}
	if len(others) > 0 {
		pkg.PackageComment += "; copied from the nix image, content not known to the frontend: " + strings.Join(others, ", ")
	}
	if len(files) == 0 { // only directories: nothing to verify
		pkg.FilesAnalyzed = false
		return pkg, nil
	}
	// SPDX's verification code: the SHA-1 of the files' sorted SHA-1s.
	sort.Strings(sha1s)
	code := sha1.Sum([]byte(strings.Join(sha1s, "")))
	pkg.PackageVerificationCode = &common.PackageVerificationCode{Value: hex.EncodeToString(code[:])}
	return pkg, files
}

func stickyBit(e nixllb.Entry) uint32 {
	if e.Mode&os.ModeSticky != 0 {
		return 0o1000
	}
	return 0
}

// copyPackage is one COPY instruction: what it names and where it puts it.
// The frontend hands the build context to BuildKit and never reads it, so
// there is no checksum: the SPDX checksums are left out (NOASSERTION).
func copyPackage(i int, c Copy) *spdx.Package {
	comment := "added by the Nixfile's " + c.Instruction
	if c.Line != "" {
		comment += " (" + c.Line + ")"
	}
	from := "the build context"
	if c.From != "" {
		from = c.From + " (COPY --from: a named build context or an image)"
	}
	comment += ": sources " + strings.Join(c.Sources, ", ") + " of " + from + ", copied to " + c.Dest +
		"; their content is not seen by the frontend, so no checksum is given"
	return &spdx.Package{
		PackageName:               c.Instruction,
		PackageSPDXIdentifier:     common.ElementID(fmt.Sprintf("nixfile-copy-%d", i)),
		PackageFileName:           c.Dest,
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PrimaryPackagePurpose:     "FILE",
		PackageComment:            comment,
	}
}
