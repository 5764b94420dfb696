//! gc-ids: the identifiers every library crate shares, so that a CRM record id means one
//! type from the CRM.interface codec through the engine to the state store (which knows
//! nothing else of CRM).
//!
//! ## CRM record ids
//!
//! CRM.interface returns a 64-bit `id` on every record. The documented example
//! `id=" 4294967394"` is `(1 << 32) + 98`, i.e. StatNo 1, SeqNo 98: the id packs the two
//! halves of Aurea's primary key (station number, sequence number). The example also shows
//! that the attribute can be padded, so parsing tolerates surrounding whitespace and leading
//! zeros.

use std::fmt;
use std::str::FromStr;

/// A CRM record id: `StatNo << 32 | SeqNo`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CrmId(pub u64);

impl CrmId {
    /// Builds an id from the station number and sequence number of the primary key.
    pub const fn new(stat_no: u32, seq_no: u32) -> Self {
        Self(((stat_no as u64) << 32) | seq_no as u64)
    }

    /// Station number (upper 32 bits).
    pub const fn stat_no(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Sequence number (lower 32 bits).
    pub const fn seq_no(self) -> u32 {
        (self.0 & 0xFFFF_FFFF) as u32
    }

    /// The raw 64-bit value as sent on the wire.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for CrmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a string is not a record id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CRM record id: {0:?}")]
pub struct ParseCrmIdError(pub String);

impl FromStr for CrmId {
    type Err = ParseCrmIdError;

    /// Accepts the decimal 64-bit form with optional surrounding whitespace (spaces, tabs,
    /// newlines) and leading zeros, e.g. `" 4294967394"` or `"0004294967394"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseCrmIdError(s.to_owned()));
        }
        let digits = t.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(CrmId(0));
        }
        digits
            .parse::<u64>()
            .map(CrmId)
            .map_err(|_| ParseCrmIdError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_example() {
        let id: CrmId = " 4294967394".parse().unwrap();
        assert_eq!(id.stat_no(), 1);
        assert_eq!(id.seq_no(), 98);
        assert_eq!(id, CrmId::new(1, 98));
        assert_eq!(id.to_string(), "4294967394");
    }

    #[test]
    fn padding_and_garbage() {
        assert_eq!("000000098".parse::<CrmId>().unwrap(), CrmId::new(0, 98));
        assert_eq!("\t42\n".parse::<CrmId>().unwrap(), CrmId(42));
        assert_eq!("0".parse::<CrmId>().unwrap(), CrmId(0));
        assert!("".parse::<CrmId>().is_err());
        assert!("  ".parse::<CrmId>().is_err());
        assert!("-1".parse::<CrmId>().is_err());
        assert!("12a".parse::<CrmId>().is_err());
        assert!("18446744073709551616".parse::<CrmId>().is_err());
    }

    proptest! {
        #[test]
        fn parts_round_trip(stat in any::<u32>(), seq in any::<u32>()) {
            let id = CrmId::new(stat, seq);
            prop_assert_eq!(id.stat_no(), stat);
            prop_assert_eq!(id.seq_no(), seq);
        }

        #[test]
        fn display_parse_round_trip(v in any::<u64>(), lead in 0usize..4, zeros in 0usize..6, trail in 0usize..3) {
            let id = CrmId(v);
            let padded = format!("{}{}{}{}", " ".repeat(lead), "0".repeat(zeros), id, " ".repeat(trail));
            prop_assert_eq!(padded.parse::<CrmId>().unwrap(), id);
            prop_assert_eq!(id.to_string().parse::<CrmId>().unwrap(), id);
        }
    }
}
