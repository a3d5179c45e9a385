// Reads "a<TAB>b" lines; prints golang.org/x/mod/semver.Compare(a, b). The generator
// builds it against the copy of x/mod/semver vendored in the Go toolchain's source.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"gencompare/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		parts := strings.SplitN(in.Text(), "\t", 2)
		fmt.Println(semver.Compare(parts[0], parts[1]))
	}
}
