// A storage layer with network-file-system latency: a FUSE loopback of a directory that waits a
// fixed time before every read the kernel sends it (page-cache misses, as an NFS client's reads
// of EFS are), so btcd's UTXO lookups that miss its cache pay what they would on EFS.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

type slowNode struct {
	fs.LoopbackNode
	delay time.Duration
}

var _ = (fs.NodeOpener)((*slowNode)(nil))
var _ = (fs.NodeCreater)((*slowNode)(nil))

func (n *slowNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &slowFile{inner: fh, delay: n.delay}, fuseFlags, 0
}

func (n *slowNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	inode, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return inode, &slowFile{inner: fh, delay: n.delay}, fuseFlags, 0
}

// slowFile forwards every operation to the loopback file; reads wait first.
type slowFile struct {
	inner fs.FileHandle
	delay time.Duration
}

func (f *slowFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	time.Sleep(f.delay)
	return f.inner.(fs.FileReader).Read(ctx, dest, off)
}

func (f *slowFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return f.inner.(fs.FileWriter).Write(ctx, data, off)
}

func (f *slowFile) Flush(ctx context.Context) syscall.Errno { return f.inner.(fs.FileFlusher).Flush(ctx) }

func (f *slowFile) Release(ctx context.Context) syscall.Errno {
	return f.inner.(fs.FileReleaser).Release(ctx)
}

func (f *slowFile) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.inner.(fs.FileFsyncer).Fsync(ctx, flags)
}

func (f *slowFile) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.inner.(fs.FileGetattrer).Getattr(ctx, out)
}

func (f *slowFile) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return f.inner.(fs.FileSetattrer).Setattr(ctx, in, out)
}

func (f *slowFile) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.inner.(fs.FileLseeker).Lseek(ctx, off, whence)
}

func (f *slowFile) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	return f.inner.(fs.FileAllocater).Allocate(ctx, off, size, mode)
}

func (f *slowFile) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return f.inner.(fs.FileGetlker).Getlk(ctx, owner, lk, flags, out)
}

func (f *slowFile) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.(fs.FileSetlker).Setlk(ctx, owner, lk, flags)
}

func (f *slowFile) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.inner.(fs.FileSetlkwer).Setlkw(ctx, owner, lk, flags)
}

// slowMount mounts backing at mountpoint with `delay` before each read, until SIGTERM or SIGINT.
func slowMount(backing, mountpoint string, delay time.Duration) error {
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return err
	}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(data *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &slowNode{LoopbackNode: fs.LoopbackNode{RootData: data}, delay: delay}
	}
	rootNode := root.NewNode(root, nil, "", &st)
	server, err := fs.Mount(mountpoint, rootNode, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, FsName: "slowfs", Name: "slowfs"},
	})
	if err != nil {
		return err
	}
	fmt.Printf("mounted %s on %s, %s per read\n", backing, mountpoint, delay)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		_ = server.Unmount()
	}()
	server.Wait()
	return nil
}
