// A simnet chain whose blocks are full of real signed transactions: pay-to-pubkey-hash, two
// inputs and three outputs each (the UTXO set grows by one per transaction), blocks filled to
// btcd's 1 MB base size. Simnet has no checkpoints, so a node syncing it checks every script;
// a custom checkpoint at the tip (btcd's --addcheckpoint) makes it skip them, as mainnet's
// blocks below the last checkpoint do.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"math/rand"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // Bitcoin's HASH160 is ripemd160(sha256)
)

const (
	keys               = 64
	coinbaseOutputs    = 1000
	fee                = 1000
	blockSpacing       = 601 * time.Second // just over 10 min: the difficulty never rises above simnet's limit
	maxBlockBytes      = 990_000
	inputsPerTx        = 2
	outputsPerTx       = 3
	smallestSpendValue = 20 * fee
)

// Meta describes a generated chain (chain.json beside chain.dat).
type Meta struct {
	Blocks       int    `json:"blocks"`
	Transactions int    `json:"transactions"`
	Inputs       int    `json:"inputs"`
	Outputs      int    `json:"outputs"`
	Utxos        int    `json:"utxos"`
	Bytes        int64  `json:"bytes"`
	TipHash      string `json:"tipHash"`
	TipTime      int64  `json:"tipTime"`
	MidHeight    int    `json:"midHeight"`
	MidHash      string `json:"midHash"`
	Seconds      float64 `json:"seconds"`
}

type wallet struct {
	priv     []*btcec.PrivateKey
	pkScript [][]byte
}

func newWallet() *wallet {
	w := &wallet{}
	for i := 0; i < keys; i++ {
		seed := sha256.Sum256([]byte(fmt.Sprintf("sigship sync bench key %d", i)))
		priv, pub := btcec.PrivKeyFromBytes(seed[:])
		sum := sha256.Sum256(pub.SerializeCompressed())
		h := ripemd160.New()
		h.Write(sum[:])
		script, err := txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
			AddData(h.Sum(nil)).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
		if err != nil {
			panic(err)
		}
		w.priv = append(w.priv, priv)
		w.pkScript = append(w.pkScript, script)
	}
	return w
}

type coin struct {
	outpoint wire.OutPoint
	value    int64
	key      int
}

// generate writes chain.dat (each block as a 4-byte little-endian length and its bytes) and
// chain.json, with at least `inputs` transaction inputs after the coinbases.
func generate(dir string, inputs int) error {
	started := time.Now()
	params := &chaincfg.SimNetParams
	w := newWallet()
	rng := rand.New(rand.NewSource(1))
	out, err := os.Create(dir + "/chain.dat")
	if err != nil {
		return err
	}
	defer out.Close()
	buffered := bufio.NewWriterSize(out, 4<<20)

	blocksNeeded := inputs/4800 + 110
	start := time.Now().Add(-time.Duration(blocksNeeded+2) * blockSpacing)
	prev := params.GenesisHash
	prevTime := start
	meta := Meta{}
	var pool []coin
	maturing := map[int][]coin{}
	target := blockchain.CompactToBig(params.PowLimitBits)
	for height := 1; meta.Inputs < inputs; height++ {
		pool = append(pool, maturing[height]...)
		delete(maturing, height)
		var txs []*wire.MsgTx
		var spentPerTx [][]coin
		size := 1000 + coinbaseOutputs*34
		for size < maxBlockBytes && len(pool) >= inputsPerTx*4 {
			tx := wire.NewMsgTx(1)
			var spent []coin
			var total int64
			for len(spent) < inputsPerTx {
				i := rng.Intn(len(pool))
				c := pool[i]
				pool[i] = pool[len(pool)-1]
				pool = pool[:len(pool)-1]
				if c.value < smallestSpendValue {
					continue // dust stays unspent, as on mainnet
				}
				spent = append(spent, c)
				total += c.value
				tx.AddTxIn(wire.NewTxIn(&c.outpoint, nil, nil))
			}
			each := (total - fee) / outputsPerTx
			for o := 0; o < outputsPerTx; o++ {
				tx.AddTxOut(wire.NewTxOut(each, w.pkScript[rng.Intn(keys)]))
			}
			txs = append(txs, tx)
			size += 10 + inputsPerTx*148 + outputsPerTx*34
			meta.Inputs += inputsPerTx
			meta.Outputs += outputsPerTx
			spentPerTx = append(spentPerTx, spent)
		}
		sign(txs, spentPerTx, w)
		coinbase := coinbaseTx(height, params, w)
		all := append([]*wire.MsgTx{coinbase}, txs...)
		blockTime := prevTime.Add(blockSpacing)
		block := mine(all, prev, blockTime, params.PowLimitBits, target)
		hash := block.BlockHash()
		for o, txOut := range coinbase.TxOut {
			maturing[height+int(params.CoinbaseMaturity)] = append(maturing[height+int(params.CoinbaseMaturity)],
				coin{outpoint: wire.OutPoint{Hash: coinbase.TxHash(), Index: uint32(o)}, value: txOut.Value, key: o % keys})
		}
		for _, tx := range txs {
			txHash := tx.TxHash()
			for o, txOut := range tx.TxOut {
				pool = append(pool, coin{outpoint: wire.OutPoint{Hash: txHash, Index: uint32(o)}, value: txOut.Value,
					key: keyOf(w, txOut.PkScript)})
			}
		}
		var raw []byte
		{
			var b = new(bytesWriter)
			if err := block.Serialize(b); err != nil {
				return err
			}
			raw = b.buf
		}
		var length [4]byte
		binary.LittleEndian.PutUint32(length[:], uint32(len(raw)))
		buffered.Write(length[:])
		buffered.Write(raw)
		meta.Bytes += int64(len(raw))
		meta.Blocks = height
		meta.Transactions += len(all)
		meta.Outputs += len(coinbase.TxOut)
		meta.TipHash = hash.String()
		meta.TipTime = blockTime.Unix()
		prev = &hash
		prevTime = blockTime
		if meta.MidHeight == 0 && meta.Inputs >= inputs/2 {
			meta.MidHeight, meta.MidHash = height, hash.String()
		}
		if height%50 == 0 {
			fmt.Fprintf(os.Stderr, "generate: height %d, %d inputs of %d (%.0f s)\n", height, meta.Inputs, inputs,
				time.Since(started).Seconds())
		}
	}
	meta.Utxos = meta.Outputs - meta.Inputs
	meta.Seconds = time.Since(started).Seconds()
	if err := buffered.Flush(); err != nil {
		return err
	}
	encoded, _ := json.MarshalIndent(meta, "", "  ")
	return os.WriteFile(dir+"/chain.json", encoded, 0o644)
}

type bytesWriter struct{ buf []byte }

func (b *bytesWriter) Write(p []byte) (int, error) { b.buf = append(b.buf, p...); return len(p), nil }

var _ io.Writer = (*bytesWriter)(nil)

func keyOf(w *wallet, script []byte) int {
	for i, s := range w.pkScript {
		if string(s) == string(script) {
			return i
		}
	}
	panic("unknown script")
}

// sign signs every input, on every core.
func sign(txs []*wire.MsgTx, spent [][]coin, w *wallet) {
	var wg sync.WaitGroup
	work := make(chan int)
	for g := 0; g < runtime.NumCPU(); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				for i, c := range spent[t] {
					script, err := txscript.SignatureScript(txs[t], i, w.pkScript[c.key], txscript.SigHashAll, w.priv[c.key], true)
					if err != nil {
						panic(err)
					}
					txs[t].TxIn[i].SignatureScript = script
				}
			}
		}()
	}
	for t := range txs {
		work <- t
	}
	close(work)
	wg.Wait()
}

func coinbaseTx(height int, params *chaincfg.Params, w *wallet) *wire.MsgTx {
	script, err := txscript.NewScriptBuilder().AddInt64(int64(height)).AddInt64(0).Script()
	if err != nil {
		panic(err)
	}
	tx := wire.NewMsgTx(1)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), script, nil))
	subsidy := blockchain.CalcBlockSubsidy(int32(height), params)
	for o := 0; o < coinbaseOutputs; o++ {
		tx.AddTxOut(wire.NewTxOut(subsidy/coinbaseOutputs, w.pkScript[o%keys]))
	}
	return tx
}

func mine(txs []*wire.MsgTx, prev *chainhash.Hash, at time.Time, bits uint32, target *big.Int) *wire.MsgBlock {
	wrapped := make([]*btcutil.Tx, len(txs))
	for i, tx := range txs {
		wrapped[i] = btcutil.NewTx(tx)
	}
	root := blockchain.CalcMerkleRoot(wrapped, false)
	header := wire.NewBlockHeader(4, prev, &root, bits, 0)
	header.Timestamp = at
	for nonce := uint32(0); ; nonce++ {
		header.Nonce = nonce
		hash := header.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) <= 0 {
			break
		}
	}
	block := wire.NewMsgBlock(header)
	for _, tx := range txs {
		block.AddTransaction(tx)
	}
	return block
}
