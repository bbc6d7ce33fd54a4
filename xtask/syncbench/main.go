// syncbench: the pieces of `cargo xtask bench sync` that speak Bitcoin. `generate` writes a
// simnet chain of real signed transactions, `serve` is the syncing node's one peer on loopback,
// `slowfs` puts a data directory behind network-file-system read latency. The measuring (btcd's
// log, its heap trace, /proc) is done by xtask.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: syncbench generate DIR INPUTS | serve CHAIN.DAT ADDR | slowfs BACKING MOUNTPOINT DELAY")
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	_ = flags.Parse(os.Args[2:])
	args := flags.Args()
	var err error
	switch {
	case os.Args[1] == "generate" && len(args) == 2:
		var inputs int
		if _, err = fmt.Sscan(args[1], &inputs); err == nil {
			err = generate(args[0], inputs)
		}
	case os.Args[1] == "serve" && len(args) == 2:
		err = serve(args[0], args[1])
	case os.Args[1] == "slowfs" && len(args) == 3:
		var delay time.Duration
		if delay, err = time.ParseDuration(args[2]); err == nil {
			err = slowMount(args[0], args[1], delay)
		}
	default:
		err = fmt.Errorf("unknown command or arguments: %v", os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(1)
	}
}
