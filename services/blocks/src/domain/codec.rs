//! The registry's storage encoding of a geometry: compact, exact and fast to decode.
//!
//! The database keeps block and subdistrict geometry as bytes in this format
//! rather than GeoJSON text: every `f64` survives bit for bit, and rebuilding
//! the in-memory index at start (up to a million blocks) decodes with a few
//! slice reads per vertex instead of parsing decimal text.
//!
//! Layout (all integers and floats little-endian):
//!
//! ```text
//! u8  version (1)
//! u32 polygon count
//!   u32 ring count (exterior first, then holes)
//!     u32 position count
//!       f64 longitude, f64 latitude   (position count times)
//! ```
//!
//! Decoding checks every length against the remaining bytes, so a corrupt
//! value gives a [`CodecError`], never a panic or a huge allocation.

use geo::{Coord, LineString, MultiPolygon, Polygon};

/// The only version written so far.
const VERSION: u8 = 1;

/// Why stored bytes are not a geometry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Empty input or an unknown version byte.
    #[error("unknown geometry encoding version {found:?}")]
    UnknownVersion {
        /// The first byte, if any.
        found: Option<u8>,
    },
    /// The bytes end before the structure they announce.
    #[error("geometry encoding is truncated at byte {offset}")]
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
    },
    /// Bytes remain after the announced structure.
    #[error("geometry encoding has {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A polygon without rings.
    #[error("polygon {polygon} has no rings")]
    EmptyPolygon {
        /// Index of the polygon.
        polygon: usize,
    },
}

/// Encodes a geometry (see the module docs for the layout).
pub fn encode(geometry: &MultiPolygon<f64>) -> Vec<u8> {
    let vertices: usize = geometry
        .0
        .iter()
        .map(|polygon| {
            polygon.exterior().0.len()
                + polygon
                    .interiors()
                    .iter()
                    .map(|ring| ring.0.len())
                    .sum::<usize>()
        })
        .sum();
    let mut bytes = Vec::with_capacity(1 + 4 + geometry.0.len() * 8 + vertices * 16);
    bytes.push(VERSION);
    push_count(&mut bytes, geometry.0.len());
    for polygon in &geometry.0 {
        push_count(&mut bytes, 1 + polygon.interiors().len());
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            push_count(&mut bytes, ring.0.len());
            for coord in &ring.0 {
                bytes.extend_from_slice(&coord.x.to_le_bytes());
                bytes.extend_from_slice(&coord.y.to_le_bytes());
            }
        }
    }
    bytes
}

fn push_count(bytes: &mut Vec<u8>, count: usize) {
    // Counts above u32::MAX cannot occur: such a geometry would not fit a message.
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&count.to_le_bytes());
}

/// Decodes bytes written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<MultiPolygon<f64>, CodecError> {
    match bytes.first() {
        Some(&VERSION) => {}
        found => {
            return Err(CodecError::UnknownVersion {
                found: found.copied(),
            });
        }
    }
    let mut reader = Reader { bytes, offset: 1 };
    let polygon_count = reader.count(4)?;
    let mut polygons = Vec::with_capacity(polygon_count);
    for polygon_index in 0..polygon_count {
        let ring_count = reader.count(4)?;
        let mut rings = Vec::with_capacity(ring_count);
        for _ in 0..ring_count {
            let position_count = reader.count(16)?;
            let mut coords = Vec::with_capacity(position_count);
            for _ in 0..position_count {
                let x = reader.f64()?;
                let y = reader.f64()?;
                coords.push(Coord { x, y });
            }
            rings.push(LineString(coords));
        }
        let mut rings = rings.into_iter();
        let Some(exterior) = rings.next() else {
            return Err(CodecError::EmptyPolygon {
                polygon: polygon_index,
            });
        };
        polygons.push(Polygon::new(exterior, rings.collect()));
    }
    if reader.offset != bytes.len() {
        return Err(CodecError::TrailingBytes {
            extra: bytes.len() - reader.offset,
        });
    }
    Ok(MultiPolygon(polygons))
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let end = self.offset + N;
        let slice = self
            .bytes
            .get(self.offset..end)
            .ok_or(CodecError::Truncated {
                offset: self.offset,
            })?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        self.offset = end;
        Ok(array)
    }

    /// A count of items that each need at least `item_bytes` more bytes; a
    /// count the remaining bytes cannot hold is reported as truncation before
    /// anything is allocated.
    fn count(&mut self, item_bytes: usize) -> Result<usize, CodecError> {
        let start = self.offset;
        let count = u32::from_le_bytes(self.take::<4>()?) as usize;
        let remaining = self.bytes.len() - self.offset;
        if count.saturating_mul(item_bytes) > remaining {
            return Err(CodecError::Truncated { offset: start });
        }
        Ok(count)
    }

    fn f64(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_le_bytes(self.take::<8>()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn with_hole() -> MultiPolygon<f64> {
        let outer = polygon!(
            exterior: [
                (x: 112.9, y: 27.8),
                (x: 112.91, y: 27.8),
                (x: 112.91, y: 27.81),
                (x: 112.9, y: 27.81),
                (x: 112.9, y: 27.8),
            ],
            interiors: [[
                (x: 112.902, y: 27.802),
                (x: 112.902, y: 27.803),
                (x: 112.903, y: 27.803),
                (x: 112.902, y: 27.802),
            ]],
        );
        let second = polygon![
            (x: 0.1 + 0.2, y: -33.3),
            (x: 1.0, y: -33.3),
            (x: 1.0, y: -32.0),
            (x: 0.1 + 0.2, y: -33.3),
        ];
        MultiPolygon(vec![outer, second])
    }

    #[test]
    fn a_geometry_survives_encoding_bit_for_bit() {
        let geometry = with_hole();
        let decoded = decode(&encode(&geometry)).expect("round trip");
        assert_eq!(decoded, geometry);
        // 0.1 + 0.2 is not 0.3: the exact f64 must come back.
        assert_eq!(decoded.0[1].exterior().0[0].x, 0.1 + 0.2);
    }

    #[test]
    fn an_empty_multipolygon_round_trips() {
        let empty = MultiPolygon::<f64>(vec![]);
        assert_eq!(decode(&encode(&empty)).expect("round trip"), empty);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode(&with_hole());
        for length in 0..bytes.len() {
            assert!(
                decode(&bytes[..length]).is_err(),
                "truncated to {length} bytes must fail"
            );
        }
    }

    #[test]
    fn an_unknown_version_trailing_bytes_and_absurd_counts_are_refused() {
        assert_eq!(decode(&[]), Err(CodecError::UnknownVersion { found: None }));
        assert_eq!(
            decode(&[9, 0, 0, 0, 0]),
            Err(CodecError::UnknownVersion { found: Some(9) })
        );
        let mut bytes = encode(&with_hole());
        bytes.push(0);
        assert_eq!(decode(&bytes), Err(CodecError::TrailingBytes { extra: 1 }));
        // A polygon count of four billion with nothing behind it.
        assert_eq!(
            decode(&[1, 255, 255, 255, 255]),
            Err(CodecError::Truncated { offset: 1 })
        );
        // One polygon without rings.
        assert_eq!(
            decode(&[1, 1, 0, 0, 0, 0, 0, 0, 0]),
            Err(CodecError::EmptyPolygon { polygon: 0 })
        );
    }
}
