// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
//
// pprof_check: reads a profile with Go's own pprof parser (Debian
// golang-github-google-pprof-dev), runs CheckValid, checks the heap
// profile layout memtrace promises, and prints what outputs_pprof.py
// compares, one line each (sample lines tab-separated: names may hold spaces):
//
//	period_type TYPE UNIT
//	period N
//	default TYPE
//	type NAME UNIT              (one per sample type, in order)
//	sample V1 V2 V3 V4 MAPPING FILE LINE FUNCTION
//
// for each sample: its values, then the leaf location's mapping ("-" for
// none) and line[0] (FILE "-" when the leaf has no line).
//
// Exit status 1 with a message on stderr when the profile is invalid.
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build -o OUT pprof_check.go
package main

import (
	"fmt"
	"os"

	"github.com/google/pprof/profile"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pprof_check: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: pprof_check FILE")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		fail("parse: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		fail("CheckValid: %v", err)
	}
	want := [][2]string{{"alloc_objects", "count"}, {"alloc_space", "bytes"},
		{"inuse_objects", "count"}, {"inuse_space", "bytes"}}
	if len(p.SampleType) != len(want) {
		fail("%d sample types, want %d", len(p.SampleType), len(want))
	}
	for i, st := range p.SampleType {
		if st.Type != want[i][0] || st.Unit != want[i][1] {
			fail("sample type %d is %s/%s, want %s/%s", i, st.Type, st.Unit, want[i][0], want[i][1])
		}
		fmt.Printf("type %s %s\n", st.Type, st.Unit)
	}
	if p.PeriodType == nil {
		fail("no period type")
	}
	fmt.Printf("period_type %s %s\nperiod %d\ndefault %s\n", p.PeriodType.Type, p.PeriodType.Unit,
		p.Period, p.DefaultSampleType)
	for _, m := range p.Mapping {
		if !m.HasFunctions || !m.HasFilenames || !m.HasLineNumbers || !m.HasInlineFrames {
			fail("mapping %d (%s): has_* flags not all set", m.ID, m.File)
		}
	}
	for _, s := range p.Sample {
		mapping, file, line, fn := "-", "-", int64(0), "-"
		if len(s.Location) > 0 && s.Location[0].Mapping != nil {
			mapping = s.Location[0].Mapping.File
		}
		if len(s.Location) > 0 && len(s.Location[0].Line) > 0 {
			l := s.Location[0].Line[0]
			file, line, fn = l.Function.Filename, l.Line, l.Function.Name
		}
		fmt.Printf("sample\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%s\n", s.Value[0], s.Value[1], s.Value[2], s.Value[3],
			mapping, file, line, fn)
	}
}
