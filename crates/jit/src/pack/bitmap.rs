//! The chunk bitmap of one pack: which 64-byte chunks hold a program, and
//! the first-fit search for a run of free ones (the kernel's
//! `bpf_prog_pack` keeps the same bitmap).

/// One bit per chunk, set while the chunk belongs to a program.
#[derive(Debug, Clone)]
pub(super) struct ChunkBitmap {
    words: Vec<u64>,
    chunks: usize,
    used: usize,
}

impl ChunkBitmap {
    /// A bitmap of `chunks` free chunks.
    pub(super) fn new(chunks: usize) -> ChunkBitmap {
        ChunkBitmap {
            words: vec![0; chunks.div_ceil(64)],
            chunks,
            used: 0,
        }
    }

    /// Chunks in use.
    pub(super) fn used(&self) -> usize {
        self.used
    }

    /// Chunks in the bitmap.
    pub(super) fn chunks(&self) -> usize {
        self.chunks
    }

    fn is_set(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// The first chunk of the lowest run of `n` free chunks, if any.
    pub(super) fn first_fit(&self, n: usize) -> Option<usize> {
        if n == 0 || n > self.chunks - self.used {
            return None;
        }
        let (mut start, mut run, mut i) = (0, 0, 0);
        while i < self.chunks {
            let word = self.words[i / 64];
            // Whole words at once where they are full or empty.
            if i % 64 == 0 && i + 64 <= self.chunks && (word == u64::MAX || word == 0) {
                if word == u64::MAX {
                    run = 0;
                } else {
                    if run == 0 {
                        start = i;
                    }
                    run += 64;
                }
                i += 64;
            } else {
                if self.is_set(i) {
                    run = 0;
                } else {
                    if run == 0 {
                        start = i;
                    }
                    run += 1;
                }
                i += 1;
            }
            if run >= n {
                return Some(start);
            }
        }
        None
    }

    /// Marks chunks `first..first + n` used (`true`) or free.
    pub(super) fn set_range(&mut self, first: usize, n: usize, used: bool) {
        for i in first..first + n {
            let (w, bit) = (i / 64, 1u64 << (i % 64));
            if used {
                debug_assert!(self.words[w] & bit == 0, "chunk {i} allocated twice");
                self.words[w] |= bit;
            } else {
                debug_assert!(self.words[w] & bit != 0, "chunk {i} freed twice");
                self.words[w] &= !bit;
            }
        }
        if used {
            self.used += n;
        } else {
            self.used -= n;
        }
    }

    /// Whether every chunk of `first..first + n` is in use.
    pub(super) fn all_used(&self, first: usize, n: usize) -> bool {
        first + n <= self.chunks && (first..first + n).all(|i| self.is_set(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_takes_the_lowest_hole_that_fits() {
        let mut b = ChunkBitmap::new(256);
        b.set_range(0, 10, true);
        b.set_range(12, 100, true);
        // A hole of 2 at 10, then free from 112.
        assert_eq!(b.first_fit(2), Some(10));
        assert_eq!(b.first_fit(3), Some(112));
        b.set_range(10, 2, true);
        assert_eq!(b.first_fit(1), Some(112));
        assert_eq!(b.first_fit(144), Some(112));
        assert_eq!(b.first_fit(145), None);
        assert_eq!(b.used(), 112);
    }

    #[test]
    fn runs_cross_word_boundaries() {
        let mut b = ChunkBitmap::new(200);
        b.set_range(0, 60, true);
        b.set_range(140, 10, true);
        assert_eq!(b.first_fit(80), Some(60));
        assert_eq!(b.first_fit(81), None);
        b.set_range(60, 80, true);
        b.set_range(70, 5, false);
        assert_eq!(b.first_fit(5), Some(70));
        assert!(b.all_used(0, 70));
        assert!(!b.all_used(69, 2));
        assert_eq!(b.first_fit(50), Some(150));
    }
}
