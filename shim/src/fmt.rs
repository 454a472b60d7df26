//! A fixed-size text buffer implementing `core::fmt::Write`: formatting without allocation.

/// Bytes formatted into a fixed array; output past the end is dropped and remembered.
pub struct Buf<const N: usize> {
    pub bytes: [u8; N],
    pub len: usize,
    pub truncated: bool,
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buf {
            bytes: [0; N],
            len: 0,
            truncated: false,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub fn push(&mut self, s: &[u8]) {
        let room = N - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self.truncated |= n < s.len();
    }

    /// Appends `s` as the inside of a JSON string (quotes not included).
    pub fn push_json_str(&mut self, s: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &c in s {
            match c {
                b'"' => self.push(b"\\\""),
                b'\\' => self.push(b"\\\\"),
                0x20..=0x7e => self.push(&[c]),
                _ => self.push(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(c >> 4) as usize],
                    HEX[(c & 15) as usize],
                ]),
            }
        }
    }
}

impl<const N: usize> core::fmt::Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}
