//! Running a request's future without a runtime's executor: what the Worker's shell uses in
//! place of `wasm-bindgen-futures` (docs/performance.md, *What changed*: *A request's future
//! run where its platform calls settle*).
//!
//! `wasm-bindgen-futures` pays for each awaited promise with two closures made in wasm and
//! handed to JavaScript (each registered with a `FinalizationRegistry`, each unregistered and
//! dropped after), and for each wake with a microtask queued through the runtime's
//! `queueMicrotask`. Here a promise settles into a [`Slots`] entry by number, through one
//! callback made once per isolate, and the request's [`Task`] is polled again right there,
//! inside the promise's own reaction: no closure per await and no extra microtask.
//!
//! Nothing here knows JavaScript; `src/edge/settle.rs` binds it to promises and the tests
//! below drive it with made-up settlements.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Operations awaiting their settlement, each by a number the outside world settles it by.
pub struct Slots<T> {
    slots: RefCell<Vec<Slot<T>>>,
    free: RefCell<Vec<u32>>,
}

enum Slot<T> {
    /// Not in use: its number is on the free list.
    Free,
    /// Opened, not settled yet: the waker of whoever polled it last.
    Waiting(Option<Waker>),
    /// Settled, not read yet.
    Settled(T),
    /// Its reader is gone (its future dropped before the settlement): freed when it settles.
    Abandoned,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self { slots: RefCell::new(Vec::new()), free: RefCell::new(Vec::new()) }
    }
}

impl<T> Slots<T> {
    /// A new slot, waiting.
    pub fn open(&self) -> u32 {
        let mut slots = self.slots.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(id) => {
                slots[id as usize] = Slot::Waiting(None);
                id
            }
            None => {
                slots.push(Slot::Waiting(None));
                (slots.len() - 1) as u32
            }
        }
    }

    /// Settles slot `id` with `value` and wakes its reader. A settlement for a slot that is not
    /// waiting (an unknown number, one settled already) is ignored; one whose reader is gone
    /// frees the slot.
    pub fn settle(&self, id: u32, value: T) {
        let waker = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.get_mut(id as usize) else { return };
            match std::mem::replace(slot, Slot::Free) {
                Slot::Waiting(waker) => {
                    *slot = Slot::Settled(value);
                    waker
                }
                Slot::Abandoned => {
                    self.free.borrow_mut().push(id);
                    None
                }
                other => {
                    *slot = other;
                    None
                }
            }
        };
        // Woken after the slots are released: the wake may poll the reader at once.
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Slot `id`'s value once it has settled (the slot is then free again), else pending with
    /// `cx`'s waker kept for the settlement.
    pub fn poll(&self, id: u32, cx: &mut Context<'_>) -> Poll<T> {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = slots.get_mut(id as usize) else { return Poll::Pending };
        match std::mem::replace(slot, Slot::Free) {
            Slot::Settled(value) => {
                self.free.borrow_mut().push(id);
                Poll::Ready(value)
            }
            Slot::Waiting(_) => {
                *slot = Slot::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            other => {
                *slot = other;
                Poll::Pending
            }
        }
    }

    /// Slot `id`'s reader is gone: a value already there is dropped and the slot freed; one
    /// still to come will be.
    pub fn abandon(&self, id: u32) {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = slots.get_mut(id as usize) else { return };
        match std::mem::replace(slot, Slot::Free) {
            Slot::Waiting(_) => *slot = Slot::Abandoned,
            Slot::Settled(_) => self.free.borrow_mut().push(id),
            other => *slot = other,
        }
    }

    /// How many slots are in use (opened and not yet read or freed).
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.slots.borrow().iter().filter(|s| !matches!(s, Slot::Free)).count()
    }
}

/// The future of one slot's value: `slots.poll(id)` until it settles; dropped before, the slot
/// is abandoned.
pub struct Settlement<'a, T> {
    slots: &'a Slots<T>,
    id: Option<u32>,
}

impl<'a, T> Settlement<'a, T> {
    /// The value slot `id` of `slots` will settle with.
    pub fn new(slots: &'a Slots<T>, id: u32) -> Self {
        Self { slots, id: Some(id) }
    }
}

impl<T> Future for Settlement<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let Some(id) = this.id else { return Poll::Pending };
        let answer = this.slots.poll(id, cx);
        if answer.is_ready() {
            this.id = None;
        }
        answer
    }
}

impl<T> Drop for Settlement<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.slots.abandon(id);
        }
    }
}

/// A future run to its end by its wakes, one at a time on this thread.
///
/// Where it is polled: when spawned, right away; when what it awaits settles through
/// [`Task::settle`], right after that settlement, in the same call; when woken any other way
/// (a timer, another executor's future, a task waking itself), in a drain that wake schedules
/// with the hook given to [`Task::set_scheduler`] (the Worker's `queueMicrotask`), so that
/// the task of a waker that wakes before it records its state (the `worker` crate's `Delay`
/// does) is polled after it has. A poll never begins inside another: a wake during a poll is run when that poll ends.
///
/// A task lives in its thread's table until its future is done; its waker holds only its
/// number, so a waker that outlives the task (a late settlement, a waker kept somewhere) finds
/// nothing to poll.
pub struct Task;

struct Running {
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Waker,
}

thread_local! {
    /// The tasks not done yet, by number.
    static TASKS: RefCell<BTreeMap<u64, Running>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT: Cell<u64> = const { Cell::new(0) };
    /// Tasks woken and not polled yet, in the order woken.
    static QUEUE: RefCell<VecDeque<u64>> = const { RefCell::new(VecDeque::new()) };
    /// A task is being polled, or a settlement is being made: the queue is drained after it.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// A drain is scheduled and has not run yet.
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    /// How a drain is scheduled (none: the next spawn, settlement or drain runs the queue).
    static SCHEDULER: Cell<Option<fn()>> = const { Cell::new(None) };
}

/// A task's waker: its number.
struct TaskId(u64);

impl Wake for TaskId {
    fn wake(self: Arc<Self>) {
        Task::woken(self.0);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        Task::woken(self.0);
    }
}

/// Marks the thread busy until dropped, also when a poll unwinds.
struct Busy;

impl Busy {
    /// `None` when the thread is busy already.
    fn enter() -> Option<Busy> {
        (!BUSY.with(|b| b.replace(true))).then_some(Busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.with(|b| b.set(false));
    }
}

impl Task {
    /// How a drain of woken tasks is scheduled for later: `schedule` must call
    /// [`Task::drain`] soon, outside any poll (the Worker: a microtask).
    pub fn set_scheduler(schedule: fn()) {
        SCHEDULER.with(|s| s.set(Some(schedule)));
    }

    /// Runs `future`: polls it now, and again on each wake until it is done.
    pub fn spawn(future: impl Future<Output = ()> + 'static) {
        let id = NEXT.with(|n| n.replace(n.get() + 1));
        let running = Running { future: Box::pin(future), waker: Waker::from(Arc::new(TaskId(id))) };
        TASKS.with(|t| t.borrow_mut().insert(id, running));
        Self::queue(id);
        Self::drain();
    }

    /// Makes a settlement with `settle` (one that records its value before it wakes anyone,
    /// as [`Slots::settle`] does) and polls the tasks it woke, before returning.
    pub fn settle(settle: impl FnOnce()) {
        match Busy::enter() {
            Some(busy) => {
                settle();
                drop(busy);
                Self::drain();
            }
            // Inside a poll: its wakes are run when the poll ends.
            None => settle(),
        }
    }

    /// Polls every woken task, and those they wake, unless a poll is in progress (which then
    /// runs them when it ends).
    pub fn drain() {
        SCHEDULED.with(|s| s.set(false));
        let Some(_busy) = Busy::enter() else { return };
        while let Some(id) = QUEUE.with(|q| q.borrow_mut().pop_front()) {
            Self::poll(id);
        }
    }

    /// How many tasks of this thread are not done.
    #[cfg(test)]
    fn running() -> usize {
        TASKS.with(|t| t.borrow().len())
    }

    fn queue(id: u64) {
        QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            if !q.contains(&id) {
                q.push_back(id);
            }
        });
    }

    fn woken(id: u64) {
        Self::queue(id);
        if BUSY.with(Cell::get) || SCHEDULED.with(|s| s.replace(true)) {
            // Run by the poll or settlement in progress, or by the drain already scheduled.
            return;
        }
        match SCHEDULER.with(Cell::get) {
            Some(schedule) => schedule(),
            None => SCHEDULED.with(|s| s.set(false)),
        }
    }

    fn poll(id: u64) {
        // Out of the table while it is polled: a wake during the poll only queues its number.
        let Some(mut running) = TASKS.with(|t| t.borrow_mut().remove(&id)) else { return };
        let done = running.future.as_mut().poll(&mut Context::from_waker(&running.waker)).is_ready();
        if !done {
            TASKS.with(|t| t.borrow_mut().insert(id, running));
        }
        // Done: dropped here, inside the poll (a slot it abandons wakes no one).
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// A made-up platform: operations settled by the test, as promises settle in the Worker.
    /// Its own for each test (leaked, as the Worker's slots live as long as the isolate).
    fn platform() -> &'static Slots<String> {
        Box::leak(Box::default())
    }

    async fn call(slots: &Slots<String>) -> (u32, String) {
        let id = slots.open();
        (id, Settlement::new(slots, id).await)
    }

    /// What the Worker's settle callback does (src/edge/settle.rs).
    fn settle(slots: &'static Slots<String>, id: u32, value: &str) {
        let value = value.to_owned();
        Task::settle(move || slots.settle(id, value));
    }

    thread_local! {
        static DRAINS_ASKED: Cell<u32> = const { Cell::new(0) };
    }

    /// A scheduler that only counts: the test drains when its "microtask" would run.
    fn count_drain() {
        DRAINS_ASKED.with(|d| d.set(d.get() + 1));
    }

    fn log() -> Rc<RefCell<Vec<String>>> {
        Rc::new(RefCell::new(Vec::new()))
    }

    #[test]
    fn a_future_without_awaits_runs_to_its_end_when_spawned() {
        let out = log();
        let o = Rc::clone(&out);
        let before = Task::running();
        Task::spawn(async move { o.borrow_mut().push("done".into()) });
        assert_eq!(*out.borrow(), ["done"]);
        assert_eq!(Task::running(), before);
    }

    #[test]
    fn a_settlement_resumes_the_task_at_once_and_frees_its_slot() {
        let slots = platform();
        let out = log();
        let o = Rc::clone(&out);
        let before = Task::running();
        Task::spawn(async move {
            let (_, first) = call(slots).await;
            o.borrow_mut().push(first);
            let (_, second) = call(slots).await;
            o.borrow_mut().push(second);
        });
        assert!(out.borrow().is_empty());
        assert_eq!((slots.in_use(), Task::running()), (1, before + 1));
        settle(slots, 0, "a");
        assert_eq!(*out.borrow(), ["a"]);
        // The first slot's number is used again for the second call.
        settle(slots, 0, "b");
        assert_eq!(*out.borrow(), ["a", "b"]);
        assert_eq!((slots.in_use(), Task::running()), (0, before));
    }

    #[test]
    fn joined_calls_settle_in_any_order() {
        let slots = platform();
        let out = log();
        let o = Rc::clone(&out);
        Task::spawn(async move {
            let (a, b) = futures_util::future::join(call(slots), call(slots)).await;
            o.borrow_mut().push(format!("{}={} {}={}", a.0, a.1, b.0, b.1));
        });
        settle(slots, 1, "second");
        assert!(out.borrow().is_empty());
        settle(slots, 0, "first");
        assert_eq!(*out.borrow(), ["0=first 1=second"]);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn a_settlement_for_a_dropped_future_frees_its_slot_and_wakes_nobody() {
        let slots = platform();
        let out = log();
        let o = Rc::clone(&out);
        Task::spawn(async move {
            // The first to settle wins; the other's future is dropped unsettled.
            let first = futures_util::future::select(Box::pin(call(slots)), Box::pin(call(slots))).await;
            let ((id, value), _) = first.factor_first();
            o.borrow_mut().push(format!("{id}={value}"));
        });
        settle(slots, 1, "late");
        assert_eq!(*out.borrow(), ["1=late"]);
        assert_eq!(slots.in_use(), 1, "the dropped call's slot waits for its settlement");
        settle(slots, 0, "never read");
        assert_eq!(slots.in_use(), 0);
        assert_eq!(*out.borrow(), ["1=late"]);
        // A settlement repeated, or for a number never opened, changes nothing.
        settle(slots, 0, "again");
        settle(slots, 99, "unknown");
        assert_eq!(slots.in_use(), 0);
        // A slot freed by a late settlement is given out again.
        assert_eq!(slots.open(), 0);
    }

    /// One request's call, dropped before it settled, and another request's call in flight:
    /// the late settlement of the first never reaches the second (an outside review's case).
    #[test]
    fn a_late_settlement_of_a_dropped_call_never_reaches_another_request() {
        let slots = platform();
        let first_slot = Rc::new(Cell::new(u32::MAX));
        let f = Rc::clone(&first_slot);
        Task::spawn(async move {
            let id = slots.open();
            f.set(id);
            let mut call = Box::pin(Settlement::new(slots, id));
            // Polled once, then dropped unsettled (a select, a try_join cut short, a timeout).
            std::future::poll_fn(|cx| {
                let _ = call.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
        });
        let got = log();
        let (g, second_slot) = (Rc::clone(&got), Rc::new(Cell::new(u32::MAX)));
        let s = Rc::clone(&second_slot);
        Task::spawn(async move {
            let id = slots.open();
            s.set(id);
            let value = Settlement::new(slots, id).await;
            g.borrow_mut().push(value);
        });
        assert_ne!(first_slot.get(), second_slot.get());
        settle(slots, first_slot.get(), "the first request's value");
        assert!(got.borrow().is_empty());
        settle(slots, second_slot.get(), "the second request's value");
        assert_eq!(*got.borrow(), ["the second request's value"]);
        assert_eq!(slots.in_use(), 0);
    }

    /// A task woken while a task is being polled (another task here) is polled after that
    /// poll, never inside it: a poll holding a `RefCell` borrow is not re-entered.
    #[test]
    fn a_wake_during_a_poll_runs_after_it() {
        let slots = platform();
        let shared = Rc::new(RefCell::new(0));
        let out = log();
        let before = Task::running();
        let (s, o) = (Rc::clone(&shared), Rc::clone(&out));
        let waiter_slot = slots.open();
        Task::spawn(async move {
            Settlement::new(slots, waiter_slot).await;
            o.borrow_mut().push(format!("waiter saw {}", *s.borrow()));
        });
        let (s, o) = (Rc::clone(&shared), Rc::clone(&out));
        Task::spawn(async move {
            call(slots).await;
            let mut held = s.borrow_mut();
            // Settles the waiter's slot while holding the borrow the waiter needs.
            settle(slots, waiter_slot, "");
            *held = 7;
            drop(held);
            o.borrow_mut().push("setter done".into());
        });
        settle(slots, waiter_slot + 1, "");
        assert_eq!(*out.borrow(), ["setter done", "waiter saw 7"]);
        assert_eq!((slots.in_use(), Task::running()), (0, before));
    }

    /// A wake from outside a settlement (another executor's poll, a timer) is scheduled, not
    /// run where it is made: that caller may hold borrows the task needs (an outside review's
    /// case).
    #[test]
    fn a_wake_from_elsewhere_is_scheduled_not_run_inside_the_waker() {
        Task::set_scheduler(count_drain);
        let shared = Rc::new(RefCell::new(0));
        let kept: Rc<RefCell<Option<Waker>>> = Rc::default();
        let (s, k) = (Rc::clone(&shared), Rc::clone(&kept));
        let mut first = true;
        Task::spawn(std::future::poll_fn(move |cx| {
            if first {
                first = false;
                *k.borrow_mut() = Some(cx.waker().clone());
                return Poll::Pending;
            }
            *s.borrow_mut() += 1;
            Poll::Ready(())
        }));
        let waker = kept.borrow_mut().take().expect("the task kept its waker");
        let asked = DRAINS_ASKED.with(Cell::get);
        let held = shared.borrow_mut();
        waker.wake_by_ref();
        waker.wake_by_ref();
        drop(held);
        assert_eq!(DRAINS_ASKED.with(Cell::get), asked + 1, "one drain scheduled for two wakes");
        assert_eq!(*shared.borrow(), 0);
        Task::drain();
        assert_eq!(*shared.borrow(), 1);
    }

    /// The `worker` crate's `Delay` wakes its task before it records that its time has come:
    /// the task is polled after the waker returns, so it sees that (an outside review's case).
    #[test]
    fn a_wake_sent_before_the_state_it_announces_is_not_lost() {
        Task::set_scheduler(count_drain);
        let awoken = Rc::new(Cell::new(false));
        let timer: Rc<RefCell<Option<Waker>>> = Rc::default();
        let done = Rc::new(Cell::new(false));
        let (a, t, d) = (Rc::clone(&awoken), Rc::clone(&timer), Rc::clone(&done));
        Task::spawn(async move {
            std::future::poll_fn(|cx| {
                if a.get() {
                    return Poll::Ready(());
                }
                // Armed once, as the timer is.
                t.borrow_mut().get_or_insert_with(|| cx.waker().clone());
                Poll::Pending
            })
            .await;
            d.set(true);
        });
        let waker = timer.borrow().clone().expect("armed");
        waker.wake_by_ref();
        awoken.set(true);
        // The scheduled drain (the Worker's microtask).
        Task::drain();
        assert!(done.get(), "the task slept forever");
    }

    #[test]
    fn a_task_that_wakes_itself_is_polled_again() {
        let out = log();
        let o = Rc::clone(&out);
        Task::spawn(async move {
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if yielded {
                    Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
            o.borrow_mut().push("again".into());
        });
        assert_eq!(*out.borrow(), ["again"]);
    }

    /// A poll that panics (a build that unwinds) leaves the thread able to run later tasks.
    #[test]
    fn a_panicking_poll_does_not_stall_every_later_task() {
        let caught = std::panic::catch_unwind(|| Task::spawn(async { panic!("a bug in one request") }));
        assert!(caught.is_err());
        let served = Rc::new(Cell::new(false));
        let s = Rc::clone(&served);
        Task::spawn(async move { s.set(true) });
        assert!(served.get(), "the next request is never polled");
    }

    /// A waker kept after its task ended (a settlement that comes late) polls nothing, and a
    /// task spawned later is not woken by it.
    #[test]
    fn a_wake_after_the_end_polls_nothing() {
        let kept: Rc<RefCell<Option<Waker>>> = Rc::default();
        let k = Rc::clone(&kept);
        Task::spawn(async move {
            std::future::poll_fn(|cx| {
                *k.borrow_mut() = Some(cx.waker().clone());
                Poll::Ready(())
            })
            .await;
        });
        let polls = Rc::new(Cell::new(0));
        let p = Rc::clone(&polls);
        Task::spawn(std::future::poll_fn(move |_| {
            p.set(p.get() + 1);
            Poll::<()>::Pending
        }));
        assert_eq!(polls.get(), 1);
        let waker = kept.borrow_mut().take().expect("the task kept its waker");
        waker.wake_by_ref();
        waker.wake();
        Task::drain();
        assert_eq!(polls.get(), 1);
    }
}
