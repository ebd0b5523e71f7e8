// Command swapper is the attacker of TestE2EPackSwapRace: it makes /tmp/sw0 ... /tmp/sw7 directories
// and symlinks to the host directory named by its first argument, in turns, each as fast as
// renameat2(RENAME_EXCHANGE) allows. A packer that walks the container's root by path from the host
// lists a /tmp/swN while it is a directory, then looks up the names it listed after it has become the
// symlink: the host's files. The directories hold the names the host directory holds (the other
// arguments), so every lookup finds something.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const pairs = 8

func main() {
	target := os.Args[1]
	for i := range pairs {
		dir, link := fmt.Sprintf("/tmp/dir%d", i), fmt.Sprintf("/tmp/sw%d", i)
		if err := os.MkdirAll(dir, 0755); err != nil {
			panic(err)
		}
		for _, name := range os.Args[2:] {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("decoy\n"), 0644); err != nil {
				panic(err)
			}
		}
		if err := os.Symlink(target, link); err != nil {
			panic(err)
		}
		go swap(dir, link)
	}
	fmt.Println("ready")
	select {}
}

func swap(a, b string) {
	for {
		if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
			panic(err)
		}
	}
}
