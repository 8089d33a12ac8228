// Command gen writes constants.go from include/zkutil.h: every numeric
// ZKU_* constant as a Go constant (typed by its prefix) with its doc, and
// every ZKU_E* error code as a Code named ErrXxx. Run by `go generate`.
//
// Usage: go run ./internal/gen HEADER OUTPUT
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"strings"
)

// A rule gives the Go type (and whether it is exported) of the constants
// whose name (without ZKU_) matches; the first matching rule wins.
type rule struct {
	pattern  *regexp.Regexp
	goType   string
	exported bool
}

var rules = []rule{
	{regexp.MustCompile(`^OK$`), "", false},
	{regexp.MustCompile(`^E[A-Z0-9]+$`), "Code", true},
	{regexp.MustCompile(`^LOCK_(UNLOCKED|HELD|SUSPENDED|LOST)$`), "LockState", true},
	{regexp.MustCompile(`^LOCK_DEFAULT_TIMEOUT$`), "", false},
	{regexp.MustCompile(`^LOCK_DEFAULT_WATCH_DELAY_MS$`), "", true},
	{regexp.MustCompile(`^LOCK_`), "LockFlag", true},
	{regexp.MustCompile(`^CAS_(WRITE|SKIP)$`), "", false},
	{regexp.MustCompile(`^CAS_`), "CASFlag", true},
	{regexp.MustCompile(`^PERM_`), "Perm", true},
	{regexp.MustCompile(`^IMPORT_`), "ImportFlag", true},
	{regexp.MustCompile(`^EXPORT_`), "ExportFlag", true},
	{regexp.MustCompile(`^CREATE_`), "CreateFlag", true},
	{regexp.MustCompile(`^READER_EVENT_`), "ReaderEventKind", true},
	{regexp.MustCompile(`^READER_STATE_`), "ReaderState", true},
	{regexp.MustCompile(`^REGISTRATION_(ABSENT|PRESENT|CLOSED)$`), "RegistrationState", true},
	{regexp.MustCompile(`^REGISTRATION_`), "RegistrationFlag", true},
	{regexp.MustCompile(`^STATE_`), "State", true},
	{regexp.MustCompile(`^LOG_`), "LogLevel", true},
	{regexp.MustCompile(`^PATH_`), "PathKind", true},
	{regexp.MustCompile(`^CONFIG_`), "ConfigField", true},
	{regexp.MustCompile(`^WAIT_`), "WaitFlag", true},
	{regexp.MustCompile(``), "", true},
}

// Types whose values get a String method naming the constant.
var named = map[string]bool{"State": true, "LockState": true, "ReaderEventKind": true, "ReaderState": true, "RegistrationState": true, "LogLevel": true}

var acronyms = map[string]string{"ACL": "ACL", "CAS": "CAS", "JSON": "JSON", "ID": "ID", "MS": "MS", "TTL": "TTL", "UTF8": "UTF8", "TXID": "TxID"}

// Words error code names are made of (ZKU_ENOTEMPTY: NOT EMPTY); longest
// match first, an unknown rest is kept as one word.
var codeWords = strings.Fields(`ABORTED ACL ALREADY ARGUMENTS AUTH BAD BUF CANCELLED CHILDREN
	CLOSED CONFIG CONNECTION DISABLED EMPTY EPHEMERALS EXCEEDED EXISTS EXPIRED FAILED FOR FORKED
	HOSTS IN INCONSISTENCY INVAL INVALID JSON LARGE LOCK LOCKED LOSS LOST MARSHALLING MEMBER MOVED
	NO NODE NOT NULL OBJECT ONLY PANIC PATH PERM PROGRESS QUOTA READ RECONFIG RESOURCE RUNTIME SESSION
	SIZE SYSTEM THROTTLED TIMEOUT TOO UNIMPLEMENTED UNKNOWN UTF8 VERSION WATCHER`)

type constant struct {
	cName, goName, goType, value, doc string
	exported                          bool
}

var defineRe = regexp.MustCompile(`^#define (ZKU_[A-Z0-9_]+) (-?[0-9]+|"[^"]*")$`)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gen HEADER OUTPUT")
		os.Exit(2)
	}
	consts, version, err := parse(os.Args[1])
	if err == nil {
		err = write(os.Args[2], consts, version)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// parse reads the header's #defines and the doc comment right above each.
func parse(path string) ([]constant, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var consts []constant
	var doc []string
	version := ""
	inDoc := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "/**") && strings.HasSuffix(line, "*/"):
			doc = []string{strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "/**"), "*/"))}
		case strings.HasPrefix(line, "/**"):
			inDoc, doc = true, nil
		case inDoc && line == "*/":
			inDoc = false
		case inDoc:
			doc = append(doc, strings.TrimSpace(strings.TrimPrefix(line, "*")))
		case defineRe.MatchString(line):
			m := defineRe.FindStringSubmatch(line)
			if m[1] == "ZKU_VERSION" {
				version = m[2]
			} else if c, ok := classify(m[1], m[2], doc); ok {
				consts = append(consts, c)
			}
			doc = nil
		case line != "":
			doc = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, "", err
	}
	if version == "" || len(consts) == 0 {
		return nil, "", fmt.Errorf("%s: no ZKU_VERSION or no constants", path)
	}
	return consts, version, nil
}

func classify(cName, value string, doc []string) (constant, bool) {
	name := strings.TrimPrefix(cName, "ZKU_")
	for _, r := range rules {
		if !r.pattern.MatchString(name) {
			continue
		}
		if name == "OK" {
			return constant{}, false
		}
		goName := camel(name)
		if r.goType == "Code" {
			goName = "Err" + codeName(strings.TrimPrefix(name, "E"))
		}
		if !r.exported {
			goName = unexport(goName)
		}
		return constant{cName, goName, r.goType, value, strings.Join(doc, " "), r.exported}, true
	}
	return constant{}, false
}

// unexport lowers the first word: CASWrite gives casWrite.
func unexport(name string) string {
	for _, a := range acronyms {
		if strings.HasPrefix(name, a) {
			return strings.ToLower(a) + name[len(a):]
		}
	}
	return strings.ToLower(name[:1]) + name[1:]
}

func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if a, ok := acronyms[part]; ok {
			b.WriteString(a)
		} else {
			b.WriteString(part[:1] + strings.ToLower(part[1:]))
		}
	}
	return b.String()
}

func codeName(s string) string {
	var b strings.Builder
	for s != "" {
		best := ""
		for _, w := range codeWords {
			if strings.HasPrefix(s, w) && len(w) > len(best) {
				best = w
			}
		}
		if best == "" {
			best = s
		}
		if a, ok := acronyms[best]; ok {
			b.WriteString(a)
		} else {
			b.WriteString(best[:1] + strings.ToLower(best[1:]))
		}
		s = s[len(best):]
	}
	return b.String()
}

func write(path string, consts []constant, version string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/gen from include/zkutil.h; DO NOT EDIT.\n\npackage zkutil\n\n")
	fmt.Fprintf(&b, "// HeaderVersion is the version of the header these constants come from.\nconst HeaderVersion = %s\n\n", version)
	b.WriteString("const (\n")
	for _, c := range consts {
		if c.doc != "" {
			fmt.Fprintf(&b, "\t// %s (%s): %s\n", c.goName, c.cName, c.doc)
		} else {
			fmt.Fprintf(&b, "\t// %s is %s.\n", c.goName, c.cName)
		}
		if c.goType != "" {
			fmt.Fprintf(&b, "\t%s %s = %s\n", c.goName, c.goType, c.value)
		} else {
			fmt.Fprintf(&b, "\t%s = %s\n", c.goName, c.value)
		}
	}
	b.WriteString(")\n\n")
	b.WriteString("// codes lists every error code with its C name.\nvar codes = []struct {\n\tcode  Code\n\tcName string\n}{\n")
	for _, c := range consts {
		if c.goType == "Code" {
			fmt.Fprintf(&b, "\t{%s, %q},\n", c.goName, c.cName)
		}
	}
	b.WriteString("}\n")
	for _, t := range sortedTypes(consts) {
		fmt.Fprintf(&b, "\n// String gives the constant's C name.\nfunc (v %s) String() string {\n\tswitch v {\n", t)
		for _, c := range consts {
			if c.goType == t {
				fmt.Fprintf(&b, "\tcase %s:\n\t\treturn %q\n", c.goName, c.cName)
			}
		}
		fmt.Fprintf(&b, "\t}\n\treturn fmt.Sprintf(\"%s(%%d)\", int32(v))\n}\n", t)
	}
	src := bytes.Replace(b.Bytes(), []byte("package zkutil\n"), []byte("package zkutil\n\nimport \"fmt\"\n"), 1)
	out, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("gofmt: %w\n%s", err, src)
	}
	return os.WriteFile(path, out, 0o644)
}

// sortedTypes lists the named types in the order they first appear.
func sortedTypes(consts []constant) []string {
	var types []string
	seen := map[string]bool{}
	for _, c := range consts {
		if named[c.goType] && !seen[c.goType] {
			seen[c.goType] = true
			types = append(types, c.goType)
		}
	}
	return types
}
