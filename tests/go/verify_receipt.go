// Command verify_receipt checks a Portcullis receipt with Go's reference transparency-log code
// (golang.org/x/mod/sumdb/note and sumdb/tlog) and nothing of Portcullis: an independent check
// that the receipt format, the signed note and the inclusion proof are the standard ones.
//
// Usage: go run verify_receipt.go FILE.tlog-proof FILE.entry LOG.vkey
//
// It parses the C2SP tlog-proof@v1 text (header, optional extra, index, proof hashes, an empty
// line, the signed checkpoint), opens the checkpoint with note.Open (which ignores signatures
// by unknown keys), reads origin, size and root (extension lines are printed, not used), and
// checks the record hash of the entry bytes with tlog.CheckRecord. Exit status 0 only if all
// of it holds.
package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "verify_receipt: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: verify_receipt FILE.tlog-proof FILE.entry LOG.vkey")
	}
	proofText, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	entry, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	vkey, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("%v", err)
	}

	// The tlog-proof@v1 text.
	rest := string(proofText)
	next := func() string {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			fail("the proof ends without a newline")
		}
		line := rest[:i]
		rest = rest[i+1:]
		return line
	}
	if next() != "c2sp.org/tlog-proof@v1" {
		fail("not a c2sp.org/tlog-proof@v1")
	}
	line := next()
	if strings.HasPrefix(line, "extra ") {
		line = next()
	}
	if !strings.HasPrefix(line, "index ") {
		fail("no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(line, "index "), 10, 64)
	if err != nil {
		fail("index: %v", err)
	}
	var proof tlog.RecordProof
	for {
		line = next()
		if line == "" {
			break
		}
		h, err := tlog.ParseHash(line)
		if err != nil {
			fail("proof hash %q: %v", line, err)
		}
		proof = append(proof, h)
	}

	// The signed checkpoint, with the pinned key.
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open([]byte(rest), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail("the checkpoint has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("checkpoint root hash %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	for _, ext := range lines[3:] {
		fmt.Printf("extension line (not used): %s\n", ext)
	}

	// The entry's record hash, included at index under the signed root.
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(entry)); err != nil {
		fail("inclusion: %v", err)
	}
	fmt.Printf("OK: entry %d is in %s of size %d, signed by %s\n", index, lines[0], size, verifier.Name())
}
