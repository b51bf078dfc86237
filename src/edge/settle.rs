//! Promises awaited on [`crate::core::task`]: a promise settles into a numbered slot through
//! one callback made once per isolate (`src/edge/settle.js`), and the request's task is polled
//! again in that callback. The requests' futures run on [`Task`] (`FullPath::serve`, the
//! Worker's `fetch`); a task woken any other way (a timer) is polled in a microtask.

pub use crate::core::task::Task;
use crate::core::task::{Settlement, Slots};
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};

type Settled = Result<JsValue, JsValue>;

thread_local! {
    // As long as the isolate: every awaited promise's slot.
    static SLOTS: &'static Slots<Settled> = Box::leak(Box::default());
    // The one callback every promise settles through.
    static DONE: js_sys::Function = Closure::<dyn Fn(u32, bool, JsValue)>::new(|slot: u32, ok: bool, value: JsValue| {
        Task::settle(|| slots().settle(slot, if ok { Ok(value) } else { Err(value) }));
    })
    .into_js_value()
    .unchecked_into();
    // The one callback every scheduled drain runs.
    static DRAIN: js_sys::Function = Closure::<dyn Fn()>::new(Task::drain).into_js_value().unchecked_into();
}

fn slots() -> &'static Slots<Settled> {
    SLOTS.with(|s| *s)
}

#[wasm_bindgen(module = "/src/edge/settle.js")]
extern "C" {
    #[wasm_bindgen(js_name = settleInto)]
    fn settle_into(promise: &js_sys::Promise, slot: u32, done: &js_sys::Function);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &js_sys::Function);
}

/// Has [`Task`] schedule its drains as microtasks (once, when the isolate starts).
pub fn install() {
    Task::set_scheduler(|| DRAIN.with(queue_microtask));
}

/// What `promise` settles with: its value, or its rejection as the error.
pub async fn settled(promise: js_sys::Promise) -> Settled {
    let slots = slots();
    let slot = slots.open();
    DONE.with(|done| settle_into(&promise, slot, done));
    Settlement::new(slots, slot).await
}
