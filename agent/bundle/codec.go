// Package bundle encodes one app's rendered objects for a pull cluster: a
// gzip-compressed stream of JSON objects (one per line) with the sha256
// digest of the uncompressed stream, split into content-addressed chunks
// when too large for one API object.
package bundle

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	// MaxInline is the largest compressed content kept in the Bundle
	// itself; larger content goes to BundleChunks.
	MaxInline = 256 << 10
	// ChunkSize is the size of each BundleChunk's data (well under etcd's
	// 1.5 MiB request limit once base64-encoded).
	ChunkSize = 512 << 10
	// MaxDecoded bounds the uncompressed size an agent accepts.
	MaxDecoded = 64 << 20
)

// Encode serializes objs (one JSON object per line), compresses the stream
// and returns the compressed bytes and "sha256:<hex>" of the uncompressed
// stream.
func Encode(objs []*unstructured.Unstructured) (content []byte, digest string, err error) {
	var raw bytes.Buffer
	for _, o := range objs {
		b, err := json.Marshal(o.Object)
		if err != nil {
			return nil, "", fmt.Errorf("encode the bundle: %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		raw.Write(b)
		raw.WriteByte('\n')
	}
	sum := sha256.Sum256(raw.Bytes())
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if _, err := w.Write(raw.Bytes()); err != nil {
		return nil, "", fmt.Errorf("encode the bundle: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("encode the bundle: %w", err)
	}
	return gz.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Decode decompresses content, checks it against digest and returns the
// objects. Content that does not match its digest, or that decompresses to
// more than MaxDecoded bytes, is refused.
func Decode(content []byte, digest string) ([]*unstructured.Unstructured, error) {
	r, err := gzip.NewReader(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("decode the bundle: not gzip content: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("decode the bundle: %w", err)
	}
	if len(raw) > MaxDecoded {
		return nil, fmt.Errorf("decode the bundle: content exceeds %d bytes uncompressed", MaxDecoded)
	}
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("decode the bundle: content digest %s does not match spec.digest %s", got, digest)
	}
	var objs []*unstructured.Unstructured
	for line := range bytes.SplitSeq(raw, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(line); err != nil {
			return nil, fmt.Errorf("decode the bundle: object %d: %w", len(objs)+1, err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// Split cuts content into pieces of at most ChunkSize bytes.
func Split(content []byte) [][]byte {
	var out [][]byte
	for len(content) > ChunkSize {
		out = append(out, content[:ChunkSize])
		content = content[ChunkSize:]
	}
	if len(content) > 0 {
		out = append(out, content)
	}
	return out
}

// ChunkName is the content-addressed name of a BundleChunk holding data.
func ChunkName(data []byte) string {
	sum := sha256.Sum256(data)
	return "chunk-" + hex.EncodeToString(sum[:])[:40]
}

// Join concatenates chunk data in order, checking each against its name.
func Join(names []string, data map[string][]byte) ([]byte, error) {
	var out []byte
	for _, n := range names {
		d, ok := data[n]
		if !ok {
			return nil, fmt.Errorf("join the bundle: chunk %s is missing", n)
		}
		if ChunkName(d) != n {
			return nil, errors.New("join the bundle: chunk " + n + " does not match its name")
		}
		out = append(out, d...)
	}
	return out, nil
}
