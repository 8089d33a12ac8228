//! Callback delivery: a small pool of threads per process runs the user
//! callbacks of every handle, so user code never runs on a runtime thread.
//!
//! Each handle with a callback owns a [`Delivery`]: its callback and a
//! bounded queue ([`Pending`]) of what is still to be delivered. Calls for
//! one handle run one at a time and in order; handles share the pool's
//! threads (at most [`MAX_THREADS`], started on demand).
//!
//! Replacing or removing a callback never needs a pool thread, so it cannot
//! deadlock on a pool whose threads are all busy: it waits only for a call
//! of that same handle in progress, then delivers what is still queued on
//! the calling thread and drops the old callback there. Called from inside
//! the callback itself it returns at once; the callback is dropped on its
//! thread right after it returns. A callback may therefore call back into
//! the library, block, and free any handle; while it blocks it occupies one
//! pool thread, delaying the callbacks of other handles.
//!
//! After fork() the child gets a pool of its own: the parent's threads do
//! not exist there, and deliveries made in the parent are never touched in
//! the child (their callbacks are neither called nor dropped).

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, ThreadId};

use crate::error::{Code, Error, Result};

/// The most threads the pool runs (per process).
pub const MAX_THREADS: usize = 4;

/// A callback as a delivery calls it.
pub type Callback<T> = Box<dyn FnMut(T) + Send>;

/// What waits for delivery to one handle's callback, kept bounded by
/// coalescing.
pub trait Pending: Send + 'static {
    /// What is posted.
    type In;
    /// What the callback gets.
    type Out: Send + 'static;
    fn push(&mut self, item: Self::In);
    fn pop(&mut self) -> Option<Self::Out>;
    /// How many items wait (at most, if `pop` may skip some).
    fn waiting(&self) -> usize;
    /// Drops what waits: nothing will be delivered of it.
    fn clear(&mut self);
    /// The last item was delivered: the callback is dropped after it.
    fn finished(&self) -> bool {
        false
    }
}

/// How many state changes may wait for a callback before older ones are
/// skipped.
pub const MAX_WAITING_STATES: usize = 16;

/// Pending state changes: the callback gets them in order as (old, new),
/// each call's `old` the previous call's `new`. When more than
/// [`MAX_WAITING_STATES`] wait (the callback is slow or stuck), the oldest
/// waiting ones are skipped, so memory stays bounded and the latest state
/// is always delivered.
pub struct StateQueue<S> {
    delivered: S,
    waiting: VecDeque<S>,
    is_final: fn(&S) -> bool,
}

impl<S: Copy + PartialEq> StateQueue<S> {
    /// Nothing waiting; `current` is the state the callback starts from.
    pub fn new(current: S) -> StateQueue<S> {
        StateQueue::until(current, |_| false)
    }

    /// As [`StateQueue::new`], the callback dropped once it got a state
    /// for which `is_final` holds.
    pub fn until(current: S, is_final: fn(&S) -> bool) -> StateQueue<S> {
        StateQueue { delivered: current, waiting: VecDeque::new(), is_final }
    }
}

impl<S: Copy + PartialEq + Send + 'static> Pending for StateQueue<S> {
    type In = S;
    type Out = (S, S);

    fn push(&mut self, state: S) {
        if self.waiting.len() == MAX_WAITING_STATES {
            self.waiting.pop_front();
        }
        self.waiting.push_back(state);
    }

    fn pop(&mut self) -> Option<(S, S)> {
        // Skipping may leave a state equal to the last one delivered.
        while let Some(new) = self.waiting.pop_front() {
            if new != self.delivered {
                let old = std::mem::replace(&mut self.delivered, new);
                return Some((old, new));
            }
        }
        None
    }

    fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn clear(&mut self) {
        if let Some(&latest) = self.waiting.back() {
            self.delivered = latest;
        }
        self.waiting.clear();
    }

    fn finished(&self) -> bool {
        (self.is_final)(&self.delivered)
    }
}

/// One handle's callback and what waits for it. Handles call
/// [`Delivery::close`] when they are closed; dropping it without that
/// stops delivery without waiting (a call in progress finishes, then the
/// callback is dropped on its thread), since a drop may happen anywhere,
/// a runtime thread included.
pub struct Delivery<P: Pending> {
    slot: Arc<Slot<P>>,
}

struct Slot<P: Pending> {
    /// The process the slot (and the pool it posts to) belongs to.
    pid: u32,
    state: Mutex<SlotState<P>>,
    /// Signalled each time a call of this callback returns.
    returned: Condvar,
}

struct SlotState<P: Pending> {
    pending: P,
    /// The registered callback, unless a thread is calling it.
    callback: Option<Callback<P::Out>>,
    /// The thread calling the callback now (it took it out of `callback`).
    running: Option<ThreadId>,
    /// The running callback was replaced or removed from inside itself:
    /// dropped when it returns instead of being put back.
    retired: bool,
    /// Waiting in the pool's queue.
    scheduled: bool,
    /// Closed: nothing more is accepted or delivered.
    closed: bool,
    /// Where to count what waits (a client's statistics), and how much of
    /// it this slot counted there.
    gauge: Option<Arc<AtomicU64>>,
    counted: usize,
}

impl<P: Pending> SlotState<P> {
    /// Brings the gauge up to date after `pending` changed.
    fn recount(&mut self) {
        let Some(gauge) = &self.gauge else { return };
        let now = self.pending.waiting();
        if now >= self.counted {
            gauge.fetch_add((now - self.counted) as u64, Ordering::Relaxed);
        } else {
            gauge.fetch_sub((self.counted - now) as u64, Ordering::Relaxed);
        }
        self.counted = now;
    }

    fn has_callback(&self) -> bool {
        self.callback.is_some() || (self.running.is_some() && !self.retired)
    }

    /// Whether a pool thread must be asked to deliver (and marks it asked).
    fn needs_scheduling(&mut self) -> bool {
        let needed = !self.closed
            && !self.scheduled
            && self.running.is_none()
            && self.callback.is_some()
            && self.pending.waiting() > 0;
        self.scheduled |= needed;
        needed
    }
}

impl<P: Pending> Delivery<P> {
    /// A delivery with no callback yet; `pending` says how posts coalesce.
    pub fn new(pending: P) -> Delivery<P> {
        Delivery::counted(pending, None)
    }

    /// As [`Delivery::new`], keeping `gauge` (when given) up by the number
    /// of items waiting here.
    pub fn counted(pending: P, gauge: Option<Arc<AtomicU64>>) -> Delivery<P> {
        let state = SlotState {
            pending,
            callback: None,
            running: None,
            retired: false,
            scheduled: false,
            closed: false,
            gauge,
            counted: 0,
        };
        Delivery {
            slot: Arc::new(Slot { pid: std::process::id(), state: Mutex::new(state), returned: Condvar::new() }),
        }
    }

    /// Queues `item` for the callback. Never blocks for long (no callback
    /// runs under the lock it takes). Without a callback it is dropped.
    pub fn post(&self, item: P::In) {
        if !self.slot.in_this_process() {
            return;
        }
        let mut s = self.slot.lock();
        if s.closed {
            return;
        }
        s.pending.push(item);
        let delivered = s.has_callback();
        if !delivered {
            s.pending.clear();
        }
        s.recount();
        if !delivered {
            return;
        }
        if s.needs_scheduling() {
            drop(s);
            pool().schedule(self.slot.clone());
        }
    }

    /// Replaces the callback (`None` removes it). From outside the
    /// callback: waits for a call in progress, delivers what was queued
    /// before to the old callback on this thread, and drops it; what is
    /// posted meanwhile goes to the new one. From inside: returns at once,
    /// the old callback is dropped when it returns and the queue goes to
    /// the new one, in order and still one call at a time.
    /// Errors: [`Code::ResourceExhausted`] when no delivery thread can be
    /// started (the old callback stays).
    pub fn set_callback(&self, callback: Option<Callback<P::Out>>) -> Result<()> {
        if callback.is_some() {
            pool().ensure_thread()?;
        }
        self.slot.replace(callback, false);
        Ok(())
    }

    /// Removes the callback for good (see [`Delivery::set_callback`]);
    /// later posts are dropped. Idempotent.
    pub fn close(&self) {
        self.slot.replace(None, true);
    }
}

impl<P: Pending> Drop for Delivery<P> {
    fn drop(&mut self) {
        if !self.slot.in_this_process() {
            // Inherited through fork(): never touched, never dropped.
            std::mem::forget(self.slot.clone());
            return;
        }
        let mut s = self.slot.lock();
        s.closed = true;
        s.pending.clear();
        s.recount();
        s.retired |= s.running.is_some();
        let callback = s.callback.take();
        drop(s);
        drop(callback);
    }
}

impl<P: Pending> Slot<P> {
    fn lock(&self) -> MutexGuard<'_, SlotState<P>> {
        // No user code runs under this lock, so a poisoned one still holds
        // a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn in_this_process(&self) -> bool {
        self.pid == std::process::id()
    }

    fn replace(self: &Arc<Self>, new: Option<Callback<P::Out>>, close: bool) {
        if !self.in_this_process() {
            // Inherited through fork(): the thread that may be calling the
            // callback, and the lock's owner, exist only in the parent.
            std::mem::forget(new);
            return;
        }
        let me = thread::current().id();
        let mut s = self.lock();
        let mut unused = Vec::new();
        if s.running == Some(me) {
            // From inside the callback: it is dropped when it returns.
            s.retired = true;
        } else {
            while s.running.is_some() {
                s = self.returned.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            s.closed |= close;
            if let Some(old) = s.callback.take() {
                let (guard, old) = self.deliver_queued(s, old);
                s = guard;
                unused.push(old);
            }
        }
        s.closed |= close;
        unused.extend(std::mem::replace(&mut s.callback, new));
        if s.closed || s.callback.is_none() {
            s.pending.clear();
        }
        s.recount();
        let schedule = s.needs_scheduling();
        drop(s);
        drop(unused);
        if schedule {
            pool().schedule(self.clone());
        }
    }

    /// Delivers, on this thread, what waits now to `callback` (stopping if
    /// the callback replaces itself), and returns it for dropping.
    fn deliver_queued<'a>(
        &'a self,
        mut s: MutexGuard<'a, SlotState<P>>,
        mut callback: Callback<P::Out>,
    ) -> (MutexGuard<'a, SlotState<P>>, Callback<P::Out>) {
        let mut left = s.pending.waiting();
        while left > 0 {
            let Some(item) = s.pending.pop() else { break };
            s.recount();
            left -= 1;
            let retired;
            (s, callback, retired) = self.call(s, callback, item);
            self.call_done(&mut s);
            if retired {
                break;
            }
        }
        (s, callback)
    }

    /// Calls `callback(item)` with the slot unlocked and marked as running
    /// on this thread. Returns the state locked again, still marked
    /// running (see [`Slot::call_done`]), the callback and whether it was
    /// replaced or removed from inside.
    fn call<'a>(
        &'a self,
        mut s: MutexGuard<'a, SlotState<P>>,
        mut callback: Callback<P::Out>,
        item: P::Out,
    ) -> (MutexGuard<'a, SlotState<P>>, Callback<P::Out>, bool) {
        s.running = Some(thread::current().id());
        drop(s);
        // A panicking callback must not kill a pool thread or leave the
        // handle marked running (callbacks from C cannot unwind anyway).
        let _ = panic::catch_unwind(AssertUnwindSafe(|| callback(item)));
        let mut s = self.lock();
        let retired = std::mem::take(&mut s.retired);
        (s, callback, retired)
    }

    /// Ends a call: a replacement or close waiting for it may go on.
    fn call_done(&self, s: &mut SlotState<P>) {
        s.running = None;
        self.returned.notify_all();
    }
}

/// Work for a pool thread.
trait Task: Send + Sync {
    fn run(self: Arc<Self>);
}

impl<P: Pending> Task for Slot<P> {
    /// Delivers one item, then queues the slot again if more wait, so
    /// handles take turns.
    fn run(self: Arc<Self>) {
        let mut s = self.lock();
        s.scheduled = false;
        if s.closed || s.running.is_some() {
            // Closing, or a replacement delivering on its own thread: it
            // schedules again when it is done.
            return;
        }
        let Some(callback) = s.callback.take() else { return };
        let Some(item) = s.pending.pop() else {
            s.callback = Some(callback);
            return;
        };
        s.recount();
        let (mut s, callback, retired) = self.call(s, callback, item);
        s.closed |= s.pending.finished();
        if retired || s.closed {
            // Replaced or removed from inside itself, or given its final
            // item: dropped now, after its last call (its user_data
            // destructor runs here), before a close waiting for this call
            // may return.
            drop(s);
            drop(callback);
            s = self.lock();
        } else {
            s.callback = Some(callback);
        }
        self.call_done(&mut s);
        let schedule = s.needs_scheduling();
        drop(s);
        if schedule {
            pool().schedule(self);
        }
    }
}

/// The process's delivery threads and the queue of handles with work.
struct Pool {
    queue: Mutex<PoolQueue>,
    work: Condvar,
}

struct PoolQueue {
    tasks: VecDeque<Arc<dyn Task>>,
    threads: usize,
    idle: usize,
}

/// One pool per process: a child after fork() appends its own to the
/// parent's (never touching the parent's lock or threads).
struct PoolNode {
    pid: u32,
    pool: Pool,
    child: OnceLock<&'static PoolNode>,
}

static POOLS: OnceLock<&'static PoolNode> = OnceLock::new();

fn pool() -> &'static Pool {
    let pid = std::process::id();
    let node =
        |pid| -> &'static PoolNode { Box::leak(Box::new(PoolNode { pid, pool: Pool::new(), child: OnceLock::new() })) };
    let mut at = *POOLS.get_or_init(|| node(pid));
    while at.pid != pid {
        at = *at.child.get_or_init(|| node(pid));
    }
    &at.pool
}

impl Pool {
    fn new() -> Pool {
        Pool { queue: Mutex::new(PoolQueue { tasks: VecDeque::new(), threads: 0, idle: 0 }), work: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, PoolQueue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes sure at least one thread runs, so what is scheduled is
    /// delivered.
    fn ensure_thread(&'static self) -> Result<()> {
        let mut q = self.lock();
        if q.threads == 0 {
            self.spawn(&mut q)?;
        }
        Ok(())
    }

    fn schedule(&'static self, task: Arc<dyn Task>) {
        let mut q = self.lock();
        q.tasks.push_back(task);
        if q.idle > 0 {
            self.work.notify_one();
        }
        // More work than idle threads: the busy ones may be blocked in
        // callbacks for a long time.
        if q.tasks.len() > q.idle && q.threads < MAX_THREADS {
            // On failure the threads already running deliver it.
            let _ = self.spawn(&mut q);
        }
    }

    fn spawn(&'static self, q: &mut PoolQueue) -> Result<()> {
        thread::Builder::new().name("zkutil-callback".to_string()).spawn(move || self.work()).map_err(|e| {
            Error::new(Code::ResourceExhausted, format!("cannot start a callback delivery thread: {e}"))
        })?;
        q.threads += 1;
        Ok(())
    }

    fn work(&self) {
        loop {
            let task = {
                let mut q = self.lock();
                loop {
                    if let Some(task) = q.tasks.pop_front() {
                        break task;
                    }
                    q.idle += 1;
                    q = self.work.wait(q).unwrap_or_else(PoisonError::into_inner);
                    q.idle -= 1;
                }
            };
            task.run();
        }
    }
}

#[cfg(test)]
mod tests;
