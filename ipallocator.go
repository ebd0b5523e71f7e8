// ipallocator.go: handing out the addresses of the bridge's subnet.
//
// NetworkManager.Allocate (network.go) takes one address per container at start and gives it back when
// the container stops or fails to start. The allocator never hands out an address twice and knows every
// address it handed out. A daemon starts with it empty, and gives the containers that ran on under their
// keepers while no daemon was there their addresses back (Reserve, from NetworkManager.Adopt) before it
// starts any container, so none of their addresses is handed out again.
package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
)

type IPAllocator struct {
	subnet *net.IPNet
	first  uint32 // the subnet's network address, as a number
	size   uint32 // addresses in the subnet, network and broadcast included

	mu    sync.Mutex
	inUse map[uint32]bool // offsets from first
	last  uint32          // the offset handed out last
}

// NewIPAllocator manages an IPv4 subnet of at least 4 addresses. The first host address is the
// gateway, the bridge's own.
func NewIPAllocator(subnet *net.IPNet) (*IPAllocator, error) {
	ones, bits := subnet.Mask.Size()
	if subnet.IP.To4() == nil || bits != 32 || ones > 30 {
		return nil, fmt.Errorf("subnet %s: want an IPv4 subnet of /30 or larger", subnet)
	}
	a := &IPAllocator{
		subnet: subnet,
		first:  binary.BigEndian.Uint32(subnet.IP.To4().Mask(subnet.Mask)),
		size:   1 << (32 - ones),
		inUse:  map[uint32]bool{1: true},
		last:   1,
	}
	return a, nil
}

func (a *IPAllocator) ip(offset uint32) net.IP {
	return binary.BigEndian.AppendUint32(nil, a.first+offset)
}

func (a *IPAllocator) offset(ip net.IP) (uint32, bool) {
	v4 := ip.To4()
	if v4 == nil || !a.subnet.Contains(v4) {
		return 0, false
	}
	offset := binary.BigEndian.Uint32(v4) - a.first
	return offset, offset > 1 && offset < a.size-1 // neither network, gateway nor broadcast
}

func (a *IPAllocator) Gateway() net.IP { return a.ip(1) }

// Allocate returns a free address. It goes round the subnet from the last one handed out, so an address
// just released is not reused at once, while other hosts' ARP caches may still remember it; the last
// one comes round again only at the end of the circle.
func (a *IPAllocator) Allocate() (net.IP, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := uint32(1); i <= a.size; i++ {
		offset := (a.last + i) % a.size
		if offset > 1 && offset < a.size-1 && !a.inUse[offset] {
			a.inUse[offset] = true
			a.last = offset
			return a.ip(offset), nil
		}
	}
	return nil, fmt.Errorf("no free address in %s", a.subnet)
}

// Reserve marks an address handed out earlier, by a daemon before this one, as in use. An address
// outside the subnet's container range, or one already in use, is refused: two containers with one
// address would each get half of its traffic.
func (a *IPAllocator) Reserve(ip net.IP) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	offset, ok := a.offset(ip)
	switch {
	case !ok:
		return fmt.Errorf("address %s is not one of %s for a container", ip, a.subnet)
	case a.inUse[offset]:
		return fmt.Errorf("address %s is already in use", ip)
	}
	a.inUse[offset] = true
	return nil
}

// Release gives an address back; releasing one that is not in use does nothing.
func (a *IPAllocator) Release(ip net.IP) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if offset, ok := a.offset(ip); ok {
		delete(a.inUse, offset)
	}
}

// InUse counts the addresses handed out (the gateway not included).
func (a *IPAllocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.inUse) - 1
}
