// The syncing node's one peer: serves a generated chain over Bitcoin's p2p protocol on loopback
// (btcd's own peer package), answering getheaders, getblocks and getdata from the chain file
// without validating anything, so the node's work is the only work measured.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

type servedChain struct {
	raw     [][]byte // raw[h-1] is block h
	hashes  []chainhash.Hash
	headers []wire.BlockHeader
	index   map[chainhash.Hash]int // hash → height
}

func loadChain(path string) (*servedChain, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &servedChain{index: map[chainhash.Hash]int{*chaincfg.SimNetParams.GenesisHash: 0}}
	c.hashes = append(c.hashes, *chaincfg.SimNetParams.GenesisHash)
	c.headers = append(c.headers, chaincfg.SimNetParams.GenesisBlock.Header)
	for len(data) > 0 {
		n := binary.LittleEndian.Uint32(data[:4])
		raw := data[4 : 4+n]
		data = data[4+n:]
		var header wire.BlockHeader
		if err := header.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, err
		}
		hash := header.BlockHash()
		c.index[hash] = len(c.hashes)
		c.hashes = append(c.hashes, hash)
		c.headers = append(c.headers, header)
		c.raw = append(c.raw, raw)
	}
	return c, nil
}

func (c *servedChain) tip() int { return len(c.hashes) - 1 }

// after is the height after the newest locator hash this chain has (0: genesis).
func (c *servedChain) after(locator []*chainhash.Hash) int {
	for _, hash := range locator {
		if height, ok := c.index[*hash]; ok {
			return height + 1
		}
	}
	return 1
}

func serve(chainPath, listen string) error {
	chain, err := loadChain(chainPath)
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("serving %d blocks on %s\n", chain.tip(), listener.Addr())
	for {
		conn, err := listener.Accept()
		if err != nil {
			return err
		}
		go servePeer(chain, conn)
	}
}

func servePeer(chain *servedChain, conn net.Conn) {
	var mu sync.Mutex
	var continueHash *chainhash.Hash
	tipHash := chain.hashes[chain.tip()]
	config := &peer.Config{
		UserAgentName:    "sigship-syncbench",
		UserAgentVersion: "1.0",
		ChainParams:      &chaincfg.SimNetParams,
		Services:         wire.SFNodeNetwork | wire.SFNodeWitness,
		ProtocolVersion:  wire.ProtocolVersion,
		NewestBlock: func() (*chainhash.Hash, int32, error) {
			return &tipHash, int32(chain.tip()), nil
		},
		Listeners: peer.MessageListeners{
			OnVersion: func(p *peer.Peer, msg *wire.MsgVersion) *wire.MsgReject { return nil },
			OnGetHeaders: func(p *peer.Peer, msg *wire.MsgGetHeaders) {
				headers := wire.NewMsgHeaders()
				for h := chain.after(msg.BlockLocatorHashes); h <= chain.tip() && len(headers.Headers) < wire.MaxBlockHeadersPerMsg; h++ {
					header := chain.headers[h]
					_ = headers.AddBlockHeader(&header)
					if chain.hashes[h] == msg.HashStop {
						break
					}
				}
				p.QueueMessage(headers, nil)
			},
			OnGetBlocks: func(p *peer.Peer, msg *wire.MsgGetBlocks) {
				inv := wire.NewMsgInv()
				last := 0
				for h := chain.after(msg.BlockLocatorHashes); h <= chain.tip() && len(inv.InvList) < wire.MaxBlocksPerMsg; h++ {
					_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &chain.hashes[h]))
					last = h
					if chain.hashes[h] == msg.HashStop {
						break
					}
				}
				if last > 0 && last < chain.tip() {
					mu.Lock()
					continueHash = &chain.hashes[last]
					mu.Unlock()
				}
				p.QueueMessage(inv, nil)
			},
			OnGetData: func(p *peer.Peer, msg *wire.MsgGetData) {
				for _, iv := range msg.InvList {
					height, ok := chain.index[iv.Hash]
					if !ok || height == 0 {
						p.QueueMessage(wire.NewMsgNotFound(), nil)
						continue
					}
					var block wire.MsgBlock
					if err := block.Deserialize(bytes.NewReader(chain.raw[height-1])); err != nil {
						fmt.Fprintln(os.Stderr, "block", height, err)
						continue
					}
					done := make(chan struct{}, 1)
					p.QueueMessage(&block, done)
					<-done
					// As btcd's server does: after the last block of an inv, announce the tip so
					// the node asks for the next run of blocks.
					mu.Lock()
					if continueHash != nil && *continueHash == iv.Hash {
						inv := wire.NewMsgInv()
						_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tipHash))
						p.QueueMessage(inv, nil)
						continueHash = nil
					}
					mu.Unlock()
				}
			},
		},
	}
	p := peer.NewInboundPeer(config)
	p.AssociateConnection(conn)
	p.WaitForDisconnect()
}

var _ = io.EOF
