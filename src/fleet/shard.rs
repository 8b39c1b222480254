//! `--shard I/N`: which tenants one of N runners takes. A tenant's shard is a hash of its
//! name, never its position in the fleet file, so adding or removing a tenant moves no other
//! tenant to another shard.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shard `index` (from 1) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The shard (from 1) a tenant of this name falls in, of `count`.
    pub fn of(name: &str, count: u32) -> u32 {
        let digest = Sha256::digest(name.to_ascii_lowercase().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
    }

    pub fn contains(&self, name: &str) -> bool {
        Shard::of(name, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// `I/N` where I counts from `base` (1, or 0 as a Kubernetes Job's completion index does).
    pub fn parse(s: &str, base: u32) -> Result<Shard, String> {
        let usage =
            || format!("`{s}` is not a shard: write I/N, e.g. {base}/4 (I from {base} to {})", 3 + base);
        let (i, n) = s.trim().split_once('/').ok_or_else(usage)?;
        let (i, count): (u32, u32) =
            (i.trim().parse().map_err(|_| usage())?, n.trim().parse().map_err(|_| usage())?);
        let index = i.checked_add(1).and_then(|i| i.checked_sub(base)).ok_or_else(usage)?;
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N` with 1 <= I <= N.
    fn from_str(s: &str) -> Result<Shard, String> {
        Shard::parse(s, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_is_in_exactly_one_shard_and_stays_there() {
        let names: Vec<String> = (0..200).map(|i| format!("tenant-{i}")).collect();
        let shards: Vec<Shard> = (1..=4).map(|i| Shard { index: i, count: 4 }).collect();
        for n in &names {
            assert_eq!(shards.iter().filter(|s| s.contains(n)).count(), 1, "{n}");
        }
        // Every shard gets some of 200 tenants.
        for s in &shards {
            assert!(names.iter().filter(|n| s.contains(n)).count() > 20, "{s}");
        }
        // The shard is the name's alone (SHA-256 of the lower-cased name): pinned values hold
        // it across releases, so runners split a fleet the same way whatever their version.
        assert_eq!(Shard::of("contoso", 4), 4);
        assert_eq!(Shard::of("CONTOSO", 4), 4);
        assert_eq!(Shard::of("fabrikam", 4), 3);
        assert_eq!(Shard::of("northwind", 4), 4);
    }

    #[test]
    fn parses_i_of_n() {
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1/0", "x", "1-3", "/3"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("I/N"), "{bad}");
        }
        assert_eq!(Shard::parse("0/3", 0).unwrap(), Shard { index: 1, count: 3 });
        assert_eq!(Shard::parse("2/3", 0).unwrap(), Shard { index: 3, count: 3 });
        assert!(Shard::parse("3/3", 0).unwrap_err().contains("from 0 to"));
    }
}
