//! A pointer into an output buffer that parallel tasks share, each writing its own disjoint
//! elements (the conv kernels' tiles and bands), so that no task needs a lock or a copy.

/// The start of the shared output. Whoever writes through it must keep each task to elements
/// no other task touches while they run.
pub struct SharedOut(*mut f32);

// SAFETY: the pointer is only written through by tasks that write disjoint elements (see the
// callers' SAFETY comments), and the buffer outlives them.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// Shares `buf`'s allocation (its capacity, not only its length).
    pub fn new(buf: &mut Vec<f32>) -> Self {
        Self(buf.as_mut_ptr())
    }

    /// The start of the buffer.
    pub fn get(&self) -> *mut f32 {
        self.0
    }
}
