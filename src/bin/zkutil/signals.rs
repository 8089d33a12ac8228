//! SIGINT, SIGTERM and SIGHUP for `zkutil lock`: recorded (not acted on)
//! by the handler, read by the main loop, which cancels a waiting acquire
//! or forwards them to the command.
//!
//! A signal the terminal sends to the whole foreground process group
//! (Ctrl-C) reaches the command by itself; only signals sent to zkutil
//! alone (kill(1), systemd) are forwarded, so the command never gets one
//! twice. The handler tells them apart by `si_code` (positive for the
//! kernel's, zero or negative for kill/sigqueue/tkill).

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// The last signal received (0: none) and whether it was sent to us alone.
static LAST: AtomicI32 = AtomicI32::new(0);
static FROM_USER: AtomicI32 = AtomicI32::new(0);
/// Incremented on every signal, so two equal signals are two events.
static COUNT: AtomicU64 = AtomicU64::new(0);

pub const HANDLED: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO; only
    // atomics are touched (async-signal-safe).
    let code = unsafe { info.as_ref() }.map_or(0, |i| i.si_code);
    FROM_USER.store(i32::from(code <= 0), Ordering::SeqCst);
    LAST.store(sig, Ordering::SeqCst);
    COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Installs the handler for [`HANDLED`].
pub fn install() {
    for sig in HANDLED {
        // SAFETY: a zeroed sigaction is a valid starting point; the handler
        // only stores atomics; sigemptyset initialises the mask we pass.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Events seen so far; compare with an earlier value to find new ones.
pub fn count() -> u64 {
    COUNT.load(Ordering::SeqCst)
}

/// The last signal and whether it was sent to zkutil alone.
pub fn last() -> Option<(libc::c_int, bool)> {
    match LAST.load(Ordering::SeqCst) {
        0 => None,
        sig => Some((sig, FROM_USER.load(Ordering::SeqCst) != 0)),
    }
}

/// Sends `sig` to process `pid`.
pub fn kill(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid of our own child (still unreaped, so the
    // pid cannot have been reused) and a valid signal number.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// A signal by name (TERM, SIGTERM, term) or number.
pub fn parse(name: &str) -> Option<libc::c_int> {
    if let Ok(n) = name.parse::<libc::c_int>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    Some(match bare {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        _ => return None,
    })
}
