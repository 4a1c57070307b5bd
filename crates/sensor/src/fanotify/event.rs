//! Parsing the buffer `read(2)` returns from a fanotify group, without trusting its lengths.

/// Size of `struct fanotify_event_metadata` (version 3).
pub(crate) const METADATA_LEN: usize = 24;

/// One event's fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawEvent {
    pub mask: u64,
    /// The event's descriptor, or `FAN_NOFD` (-1).
    pub fd: i32,
    pub pid: i32,
}

/// Why the rest of a buffer could not be parsed. Parsing stops there: once one length is wrong,
/// nothing after it can be located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Fewer bytes left than one header.
    #[error("fanotify buffer truncated at byte {offset}: {left} bytes left, a header is 24")]
    Truncated { offset: usize, left: usize },
    /// The kernel speaks a metadata version this code does not.
    #[error("fanotify metadata version {found} at byte {offset}, expected {expected}")]
    Version {
        offset: usize,
        found: u8,
        expected: u8,
    },
    /// `event_len` or `metadata_len` out of bounds.
    #[error("fanotify event at byte {offset} has event_len {event_len} / metadata_len {metadata_len} (buffer has {left} bytes left)")]
    Length {
        offset: usize,
        event_len: usize,
        metadata_len: usize,
        left: usize,
    },
}

/// Splits a read buffer into events. The iterator yields each header in order and, at most once,
/// a final error after which it stops.
pub(crate) fn parse(buf: &[u8]) -> Events<'_> {
    Events {
        buf,
        offset: 0,
        done: false,
    }
}

/// Iterator returned by [`parse`].
pub(crate) struct Events<'a> {
    buf: &'a [u8],
    offset: usize,
    done: bool,
}

impl Iterator for Events<'_> {
    type Item = Result<RawEvent, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.offset >= self.buf.len() {
            return None;
        }
        let offset = self.offset;
        let rest = &self.buf[offset..];
        let result = header(rest, offset);
        match result {
            Ok((event, event_len)) => {
                self.offset += event_len;
                Some(Ok(event))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn header(rest: &[u8], offset: usize) -> Result<(RawEvent, usize), ParseError> {
    if rest.len() < METADATA_LEN {
        return Err(ParseError::Truncated {
            offset,
            left: rest.len(),
        });
    }
    let u32_at = |i: usize| u32::from_ne_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
    let event_len = u32_at(0) as usize;
    let vers = rest[4];
    let metadata_len = u16::from_ne_bytes([rest[6], rest[7]]) as usize;
    let mut mask_bytes = [0u8; 8];
    mask_bytes.copy_from_slice(&rest[8..16]);
    let mask = u64::from_ne_bytes(mask_bytes);
    let fd = u32_at(16) as i32;
    let pid = u32_at(20) as i32;
    if vers != libc::FANOTIFY_METADATA_VERSION {
        return Err(ParseError::Version {
            offset,
            found: vers,
            expected: libc::FANOTIFY_METADATA_VERSION,
        });
    }
    if metadata_len < METADATA_LEN || event_len < metadata_len || event_len > rest.len() {
        return Err(ParseError::Length {
            offset,
            event_len,
            metadata_len,
            left: rest.len(),
        });
    }
    Ok((RawEvent { mask, fd, pid }, event_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        event_len: u32,
        vers: u8,
        metadata_len: u16,
        mask: u64,
        fd: i32,
        pid: i32,
    ) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&event_len.to_ne_bytes());
        v.push(vers);
        v.push(0);
        v.extend_from_slice(&metadata_len.to_ne_bytes());
        v.extend_from_slice(&mask.to_ne_bytes());
        v.extend_from_slice(&fd.to_ne_bytes());
        v.extend_from_slice(&pid.to_ne_bytes());
        v
    }

    #[test]
    fn layout_matches_libc() {
        assert_eq!(
            std::mem::size_of::<libc::fanotify_event_metadata>(),
            METADATA_LEN
        );
    }

    #[test]
    fn two_events_and_an_info_record_are_walked_by_event_len() {
        let mut buf = encode(24, 3, 24, libc::FAN_OPEN_EXEC_PERM, 7, 100);
        // An event with 8 bytes of trailing info records that must be skipped.
        let mut second = encode(32, 3, 24, libc::FAN_Q_OVERFLOW, -1, 0);
        second.extend_from_slice(&[0xAA; 8]);
        buf.extend_from_slice(&second);
        let got: Vec<_> = parse(&buf).collect();
        assert_eq!(
            got,
            vec![
                Ok(RawEvent {
                    mask: libc::FAN_OPEN_EXEC_PERM,
                    fd: 7,
                    pid: 100
                }),
                Ok(RawEvent {
                    mask: libc::FAN_Q_OVERFLOW,
                    fd: -1,
                    pid: 0
                }),
            ]
        );
    }

    #[test]
    fn wrong_version_stops_parsing() {
        let mut buf = encode(24, 2, 24, 0, 5, 1);
        buf.extend_from_slice(&encode(24, 3, 24, 0, 6, 1));
        let got: Vec<_> = parse(&buf).collect();
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0], Err(ParseError::Version { found: 2, .. })));
    }

    #[test]
    fn bad_lengths_stop_parsing_without_panicking() {
        for (event_len, metadata_len) in [
            (0, 24),
            (23, 24),
            (24, 0),
            (24, 25),
            (1000, 24),
            (u32::MAX, 24),
        ] {
            let buf = encode(event_len, 3, metadata_len, 0, 5, 1);
            let got: Vec<_> = parse(&buf).collect();
            assert_eq!(got.len(), 1, "{event_len}/{metadata_len}");
            assert!(
                matches!(got[0], Err(ParseError::Length { .. })),
                "{event_len}/{metadata_len}"
            );
        }
        let got: Vec<_> = parse(&[3u8; 10]).collect();
        assert_eq!(
            got,
            vec![Err(ParseError::Truncated {
                offset: 0,
                left: 10
            })]
        );
    }

    proptest::proptest! {
        #[test]
        fn random_buffers_never_panic(buf in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&buf).count();
        }

        #[test]
        fn well_formed_streams_round_trip(
            events in proptest::collection::vec((proptest::num::u64::ANY, -1i32..4096, 0i32..1 << 22, 0usize..3), 0..20)
        ) {
            let mut buf = Vec::new();
            for (mask, fd, pid, extra) in &events {
                let len = (METADATA_LEN + 8 * extra) as u32;
                buf.extend_from_slice(&encode(len, 3, 24, *mask, *fd, *pid));
                buf.extend(std::iter::repeat_n(0x5a, 8 * extra));
            }
            let got: Vec<_> = parse(&buf).collect::<Result<_, _>>().unwrap();
            let want: Vec<_> = events.iter().map(|(mask, fd, pid, _)| RawEvent { mask: *mask, fd: *fd, pid: *pid }).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn any_bytes_are_parsed_without_panicking() {
        // A small exhaustive-ish sweep: every prefix of a valid stream plus garbage.
        let mut buf = encode(24, 3, 24, libc::FAN_OPEN_EXEC_PERM, 3, 9);
        buf.extend((0u8..=255).cycle().take(300));
        for end in 0..buf.len() {
            let _ = parse(&buf[..end]).count();
        }
    }
}
