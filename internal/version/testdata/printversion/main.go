// Command printversion prints version.String(), for the test that stamps
// it the way the Dockerfile does.
package main

import (
	"fmt"

	"github.com/memproxy/memproxy/internal/version"
)

func main() { fmt.Println(version.String()) }
