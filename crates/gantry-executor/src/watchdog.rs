//! The watchdog: a small child process that kills the process groups of
//! running steps when gantry itself dies, however it dies (even `kill -9`).
//!
//! Gantry writes the process groups it starts (`watch`) into a table of
//! memory shared with the watchdog, and clears them when it has dealt with
//! them (`release`): a store, with no system call and no wake-up of the
//! watchdog per step. Should the table ever be full, the group goes over the
//! pipe instead. The watchdog holds the pipe's only read end; gantry holds the
//! only write end (close-on-exec, so no step inherits it). When gantry exits
//! for any reason the kernel closes the write end, the watchdog reads
//! end-of-file, SIGKILLs every group still in the table or sent to it —
//! background processes and grandchildren included, unlike `PR_SET_PDEATHSIG`,
//! which only reaches the direct child — and exits.
//!
//! Using a watchdog instead of `PR_SET_PDEATHSIG` also keeps spawning cheap:
//! a `pre_exec` hook forces the standard library to `fork` the whole
//! multi-threaded process for every step, while without one it uses
//! `posix_spawn` (a vfork), which copies no page tables and leaves the
//! parent's memory without copy-on-write faults.
//!
//! The watchdog is forked once, at start-up, while the process still has a
//! single thread: [`Watchdog::start`] refuses otherwise.
//!
//! It can also run a clean-up command when gantry dies, for what is not a
//! process (containers and networks: `gantry gc --owner …`). The command runs
//! only if gantry armed it ([`Watchdog::arm_cleanup`], sent once the first
//! container is made) and only when gantry died without saying it is done
//! ([`Watchdog::disarm_cleanup`] at a normal end).

use std::fs::File;
use std::io::{self, Read, Write};
use std::num::NonZeroUsize;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, PoisonError};

use nix::fcntl::OFlag;
use nix::sys::signal::{SigHandler, Signal, killpg, signal};
use nix::unistd::{ForkResult, Pid, fork, pipe2};

/// One message: an opcode byte and a process group id (little endian).
const MESSAGE: usize = 5;
const WATCH: u8 = b'+';
const RELEASE: u8 = b'-';
const ARM: u8 = b'A';
const DISARM: u8 = b'D';

/// Slots of the shared table of process groups (one page).
const SLOTS: usize = 1024;

/// The table of watched process groups, in memory mapped shared before the
/// fork, so that gantry's stores are what the watchdog reads (0 = free).
/// It is never unmapped: both processes use it until they exit.
#[derive(Debug, Clone, Copy)]
struct Table(&'static [AtomicI32]);

impl Table {
    #[allow(unsafe_code)]
    fn map() -> io::Result<Table> {
        use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
        let len = NonZeroUsize::new(SLOTS * size_of::<AtomicI32>()).expect("non-zero");
        // SAFETY: a fresh anonymous mapping, zero-filled by the kernel, aligned
        // to a page, of exactly SLOTS i32s; AtomicI32 has i32's layout, and the
        // mapping lives as long as the process (it is never unmapped), so the
        // 'static slice stays valid.
        unsafe {
            let ptr = mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
            .map_err(io::Error::from)?;
            Ok(Table(std::slice::from_raw_parts(
                ptr.as_ptr().cast::<AtomicI32>(),
                SLOTS,
            )))
        }
    }

    /// Puts the group in a free slot; false when the table is full.
    fn insert(&self, pgid: i32) -> bool {
        self.0.iter().any(|slot| {
            slot.compare_exchange(0, pgid, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Frees the group's slot; false when it is not in the table.
    fn remove(&self, pgid: i32) -> bool {
        self.0.iter().any(|slot| {
            slot.compare_exchange(pgid, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })
    }

    fn groups(&self) -> impl Iterator<Item = i32> + '_ {
        self.0
            .iter()
            .map(|slot| slot.load(Ordering::Acquire))
            .filter(|&g| g != 0)
    }
}

/// The parent's handle on the watchdog process.
#[derive(Debug)]
pub struct Watchdog {
    table: Table,
    pipe: Mutex<File>,
    pid: Pid,
    armed: std::sync::atomic::AtomicBool,
}

impl Watchdog {
    /// Forks the watchdog. Call it before any thread is started (before the
    /// async runtime): forking a multi-threaded process is not safe, and this
    /// returns an error instead.
    /// `cleanup` is a command (program and arguments) the watchdog runs if
    /// gantry dies while the clean-up is armed.
    #[allow(unsafe_code)]
    pub fn start(cleanup: Option<Vec<String>>) -> io::Result<Watchdog> {
        let threads = std::fs::read_dir("/proc/self/task")?.count();
        if threads != 1 {
            return Err(io::Error::other(format!(
                "the watchdog must be started while the process has one thread, not {threads}"
            )));
        }
        let table = Table::map()?;
        let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)?;
        // SAFETY: the process has exactly one thread (checked above), so the
        // child is an exact copy with no lock held by a vanished thread; it
        // may allocate and use the standard library freely.
        match unsafe { fork() }.map_err(io::Error::from)? {
            ForkResult::Child => {
                drop(write);
                watch_loop(read, table, cleanup)
            }
            ForkResult::Parent { child } => {
                drop(read);
                Ok(Watchdog {
                    table,
                    pipe: Mutex::new(File::from(write)),
                    pid: child,
                    armed: std::sync::atomic::AtomicBool::new(false),
                })
            }
        }
    }

    /// The watchdog's process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw().unsigned_abs()
    }

    /// From now on, kill this process group if gantry dies.
    pub(crate) fn watch(&self, pgid: Pid) {
        if !self.table.insert(pgid.as_raw()) {
            self.send(WATCH, pgid);
        }
    }

    /// The group has been dealt with (it is gone or was killed): forget it,
    /// so that a later group reusing the id is never touched.
    pub(crate) fn release(&self, pgid: Pid) {
        if !self.table.remove(pgid.as_raw()) {
            self.send(RELEASE, pgid);
        }
    }

    /// From now on, run the clean-up command if gantry dies (idempotent).
    pub fn arm_cleanup(&self) {
        if !self.armed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.send(ARM, Pid::from_raw(0));
        }
    }

    /// Gantry cleaned up itself: the command is not needed any more.
    pub fn disarm_cleanup(&self) {
        if self.armed.swap(false, std::sync::atomic::Ordering::Relaxed) {
            self.send(DISARM, Pid::from_raw(0));
        }
    }

    fn send(&self, op: u8, pgid: Pid) {
        let mut message = [0u8; MESSAGE];
        message[0] = op;
        message[1..].copy_from_slice(&pgid.as_raw().to_le_bytes());
        // One write of 5 bytes (< PIPE_BUF) is atomic. A watchdog that died
        // cannot be helped here; the run goes on without it.
        let _ = self
            .pipe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(&message);
    }
}

/// The watchdog process: collect groups until end-of-file, kill the rest, exit.
fn watch_loop(read: OwnedFd, table: Table, cleanup: Option<Vec<String>>) -> ! {
    // Ctrl-C and friends go to gantry's whole process group, this process
    // included; only the end of gantry ends the watchdog.
    for sig in [
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
        Signal::SIGTERM,
    ] {
        // SAFETY: SIG_IGN installs no handler code.
        #[allow(unsafe_code)]
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    // Hold no terminal or pipe of gantry's callers open.
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    // Nor any other file gantry had open: only the pipe is kept.
    let keep = std::os::fd::AsRawFd::as_raw_fd(&read);
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in open.into_iter().filter(|&fd| fd > 2 && fd != keep) {
        // SAFETY: this single-threaded child owns every descriptor it
        // inherited and uses none of them again (the directory handle used
        // for listing is already closed, and closing it twice is harmless).
        #[allow(unsafe_code)]
        let _ = nix::unistd::close(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    let mut pipe = File::from(read);
    let mut watched: Vec<i32> = Vec::new();
    let mut armed = false;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                let whole = pending.len() / MESSAGE * MESSAGE;
                for message in pending[..whole].chunks_exact(MESSAGE) {
                    let mut id = [0u8; 4];
                    id.copy_from_slice(&message[1..]);
                    let pgid = i32::from_le_bytes(id);
                    match message[0] {
                        WATCH => watched.push(pgid),
                        RELEASE => watched.retain(|&g| g != pgid),
                        ARM => armed = true,
                        DISARM => armed = false,
                        _ => {}
                    }
                }
                pending.drain(..whole);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    // Gantry is gone: what it left in the table is final.
    watched.extend(table.groups());
    for pgid in watched {
        if pgid > 1 {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
    if armed && let Some((program, args)) = cleanup.as_deref().and_then(<[String]>::split_first) {
        let _ = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_table_keeps_groups_until_released_and_says_when_full() {
        let table = Table::map().unwrap();
        assert_eq!(table.groups().count(), 0);
        assert!(table.insert(41));
        assert!(table.insert(42));
        assert!(table.remove(41));
        assert!(!table.remove(41), "a released group is gone");
        assert_eq!(table.groups().collect::<Vec<_>>(), vec![42]);
        // The freed slot is reused; a full table refuses (the pipe takes over).
        for pgid in 100..(100 + SLOTS as i32 - 1) {
            assert!(table.insert(pgid), "{pgid}");
        }
        assert!(!table.insert(7));
        assert_eq!(table.groups().count(), SLOTS);
        assert!(table.remove(42));
        assert!(table.insert(7));
    }
}
