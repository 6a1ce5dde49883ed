//! The `ergon` command line.

mod cli;

// jemalloc, as reth and Lighthouse use: blocks and gossip batches are megabytes, and glibc's
// malloc hands such buffers back to the kernel and faults fresh zeroed pages in for the next.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
