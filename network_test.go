// network_test.go: the network manager as several daemons on one host meet it.
package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Two daemons started at the same moment (a test suite's and a benchmark's) both found 172.17.0.0/16
// free and both gave it to their bridges; containers on either then got "no route to host".
func TestNewNetworkManagerConcurrentDaemonsTakeDistinctSubnets(t *testing.T) {
	const daemons = 4
	managers := make([]*NetworkManager, daemons)
	errs := make([]error, daemons)
	var wg sync.WaitGroup
	for i := range daemons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			managers[i], errs[i] = NewNetworkManager(fmt.Sprintf("etlock%d%d", os.Getpid()%1000, i), "")
		}()
	}
	wg.Wait()
	subnets := map[string]string{}
	for i, m := range managers {
		if errs[i] != nil {
			t.Errorf("daemon %d: %v", i, errs[i])
			continue
		}
		defer m.Close()
		if other, taken := subnets[m.subnet.String()]; taken {
			t.Errorf("bridges %s and %s both took %s", other, m.bridge, m.subnet)
		}
		subnets[m.subnet.String()] = m.bridge
	}
}
