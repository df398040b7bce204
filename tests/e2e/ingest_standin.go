// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
//
// ingest_standin: a stand-in for a Pyroscope-compatible ingest server, for
// tests/e2e/daemon.py. It listens on the address given, takes
// POST /ingest?name=APP{labels}&from=T0&until=T1&format=pprof whose body is
// a gzipped pprof profile, parses it with Go's own pprof parser (Debian
// golang-github-google-pprof-dev) and CheckValid, answers 200 (400 when
// anything is wrong), and prints one line per request, tab-separated:
//
//	ingest NAME FROM UNTIL FORMAT NSAMPLES
//	sample INUSE_SPACE INUSE_OBJECTS FILE LINE FUNCTION   (the leaf of each sample)
//	error MESSAGE
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build -o OUT ingest_standin.go
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/google/pprof/profile"
)

var (
	mu  sync.Mutex
	out = bufio.NewWriter(os.Stdout)
)

func say(format string, args ...interface{}) {
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(out, format+"\n", args...)
	out.Flush()
}

func ingest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		say("error\treading the body: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, err := profile.ParseData(body)
	if err == nil {
		err = p.CheckValid()
	}
	if err != nil {
		say("error\t%v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	idx := map[string]int{}
	for i, st := range p.SampleType {
		idx[st.Type] = i
	}
	space, okS := idx["inuse_space"]
	objs, okO := idx["inuse_objects"]
	if !okS || !okO {
		say("error\tno inuse_space/inuse_objects sample types")
		http.Error(w, "sample types", http.StatusBadRequest)
		return
	}
	mu.Lock()
	fmt.Fprintf(out, "ingest\t%s\t%s\t%s\t%s\t%d\n", q.Get("name"), q.Get("from"),
		q.Get("until"), q.Get("format"), len(p.Sample))
	for _, s := range p.Sample {
		file, line, fn := "-", int64(0), "-"
		if len(s.Location) > 0 && len(s.Location[0].Line) > 0 {
			l := s.Location[0].Line[0]
			line = l.Line
			if l.Function != nil {
				file = l.Function.Filename
				fn = l.Function.Name
			}
		}
		fmt.Fprintf(out, "sample\t%d\t%d\t%s\t%d\t%s\n", s.Value[space], s.Value[objs],
			file, line, strings.ReplaceAll(fn, "\t", " "))
	}
	out.Flush()
	mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ingest_standin HOST:PORT")
		os.Exit(2)
	}
	http.HandleFunc("/ingest", ingest)
	say("listening\t%s", os.Args[1])
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
