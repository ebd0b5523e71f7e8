package main

import (
	"net"
	"strings"
	"sync"
	"testing"
)

func newTestAllocator(t *testing.T, cidr string) *IPAllocator {
	t.Helper()
	_, subnet, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewIPAllocator(subnet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestIPAllocatorRefusesBadSubnets(t *testing.T) {
	for _, cidr := range []string{"10.0.0.0/31", "10.0.0.1/32", "fd00::/64"} {
		_, subnet, _ := net.ParseCIDR(cidr)
		if _, err := NewIPAllocator(subnet); err == nil {
			t.Errorf("%s: accepted", cidr)
		}
	}
}

// A /29 has 8 addresses: network, gateway, 5 for containers, broadcast.
func TestIPAllocatorHandsOutEveryAddressOnceThenSaysSo(t *testing.T) {
	a := newTestAllocator(t, "10.9.0.0/29")
	if got := a.Gateway().String(); got != "10.9.0.1" {
		t.Fatalf("gateway %s", got)
	}
	var got []string
	for i := 0; i < 5; i++ {
		ip, err := a.Allocate()
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, ip.String())
	}
	want := "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if _, err := a.Allocate(); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Fatalf("exhausted subnet: err = %v", err)
	}
	if a.InUse() != 5 {
		t.Fatalf("InUse = %d", a.InUse())
	}
}

func TestIPAllocatorGoesRoundBeforeReusing(t *testing.T) {
	a := newTestAllocator(t, "10.9.0.0/29")
	first, _ := a.Allocate()
	a.Release(first)
	second, _ := a.Allocate()
	if second.Equal(first) {
		t.Fatalf("%s reused at once", first)
	}
	// Once round the subnet, the released address comes back.
	for i := 0; i < 3; i++ {
		a.Allocate()
	}
	again, err := a.Allocate()
	if err != nil || !again.Equal(first) {
		t.Fatalf("got %v, %v; want %s", again, err, first)
	}
}

func TestIPAllocatorReleaseGivesBack(t *testing.T) {
	a := newTestAllocator(t, "10.9.0.0/30") // exactly one address: .2
	ip, err := a.Allocate()
	if err != nil || ip.String() != "10.9.0.2" {
		t.Fatalf("got %v, %v", ip, err)
	}
	if _, err := a.Allocate(); err == nil {
		t.Fatal("second allocation in a /30 succeeded")
	}
	a.Release(ip)
	a.Release(ip) // twice does nothing
	a.Release(net.ParseIP("192.168.1.1"))
	if a.InUse() != 0 {
		t.Fatalf("InUse = %d", a.InUse())
	}
	if again, err := a.Allocate(); err != nil || !again.Equal(ip) {
		t.Fatalf("after release: %v, %v", again, err)
	}
}

func TestIPAllocatorConcurrent(t *testing.T) {
	a := newTestAllocator(t, "10.9.0.0/24") // 253 addresses
	var mu sync.Mutex
	held := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ip, err := a.Allocate()
				if err != nil {
					errs <- err.Error()
					return
				}
				mu.Lock()
				if held[ip.String()] {
					errs <- ip.String() + " handed out twice"
				}
				held[ip.String()] = true
				mu.Unlock()
				mu.Lock()
				delete(held, ip.String())
				mu.Unlock()
				a.Release(ip)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if a.InUse() != 0 {
		t.Fatalf("InUse = %d after all were released", a.InUse())
	}
	// And filling the subnet from many goroutines gives each address exactly once.
	results := make(chan string, 300)
	for g := 0; g < 23; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 11; i++ {
				if ip, err := a.Allocate(); err == nil {
					results <- ip.String()
				}
			}
		}()
	}
	wg.Wait()
	close(results)
	seen := map[string]bool{}
	for ip := range results {
		if seen[ip] {
			t.Fatalf("%s handed out twice", ip)
		}
		seen[ip] = true
	}
	if len(seen) != 253 {
		t.Fatalf("%d addresses handed out, want 253", len(seen))
	}
}

// Reserve takes back the address of a container a daemon before this one started: it is never handed
// out while reserved, it cannot be reserved twice, and Release frees it as any other.
func TestIPAllocatorReserve(t *testing.T) {
	a := newTestAllocator(t, "10.9.0.0/29")
	adopted := net.ParseIP("10.9.0.2")
	if err := a.Reserve(adopted); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve(adopted); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("reserved twice: %v", err)
	}
	for _, bad := range []string{"10.9.0.0", "10.9.0.1", "10.9.0.7", "10.8.0.2", "fd00::2"} {
		if err := a.Reserve(net.ParseIP(bad)); err == nil {
			t.Errorf("reserved %s", bad)
		}
	}
	var got []string
	for ip, err := a.Allocate(); err == nil; ip, err = a.Allocate() {
		got = append(got, ip.String())
	}
	if want := "10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6"; strings.Join(got, " ") != want {
		t.Errorf("handed out %v, want %s (never the reserved address)", got, want)
	}
	if a.InUse() != 5 {
		t.Errorf("InUse = %d, want 5", a.InUse())
	}
	a.Release(adopted)
	if ip, err := a.Allocate(); err != nil || !ip.Equal(adopted) {
		t.Errorf("after Release: %v %v", ip, err)
	}
}
