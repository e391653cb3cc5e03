//! What VMCOREINFO says about `struct page`: field offsets, flag bits and
//! the page-type encodings of the dumped kernel's generation.
//!
//! Every key is optional except the few the walk cannot do without; a
//! missing key disables the tests that need it, so the affected pages are
//! kept (never excluded on a guess).

use crate::Error;
use dumpfile::VmcoreInfo;

/// How a free buddy block's head page is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BuddyTest {
    /// v2.6.17–v2.6.37: the `PG_buddy` flag bit.
    Flag(u32),
    /// v2.6.38+: `_mapcount` equals `PAGE_BUDDY_MAPCOUNT_VALUE` (−2, −128,
    /// −129 or `PGTY_buddy << 24` depending on the generation; compared as
    /// a 32-bit word).
    Mapcount(u32),
}

/// Width of an integer field read from the second page of a compound page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    /// `unsigned char` (v4.16+).
    U8,
    /// `unsigned short` (v4.4–v4.15).
    U16,
    /// `unsigned long` (before v4.4: `lru.next`/`lru.prev` reused).
    U64,
}

impl Width {
    /// Read a little-endian field of this width; `None` when out of bounds.
    pub(crate) fn read(self, b: &[u8], off: usize) -> Option<u64> {
        match self {
            Width::U8 => b.get(off).map(|&v| u64::from(v)),
            Width::U16 => rd::<2>(b, off).map(|v| u64::from(u16::from_le_bytes(v))),
            Width::U64 => rd::<8>(b, off).map(u64::from_le_bytes),
        }
    }
}

/// Where a compound head's order and hugetlb marker live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compound {
    /// v6.9+: order in the low byte of the second page's flags; hugetlb when
    /// the head's `_mapcount` equals `PAGE_HUGETLB_MAPCOUNT_VALUE`.
    HugetlbMapcount(u32),
    /// v6.6–v6.8: order as above; hugetlb when bit `PG_hugetlb` is set in
    /// the second page's flags (`folio._flags_1`).
    HugetlbFlag(u32),
    /// v6.5 and older: explicit fields in the second page (`compound_order`,
    /// `compound_dtor`, or `folio._folio_order/_folio_dtor` in 6.3–6.5).
    Fields {
        /// Offset of the order inside the second `struct page`.
        order: Option<(usize, Width)>,
        /// Offset of the destructor id (or pointer) inside it.
        dtor: Option<(usize, Width)>,
    },
}

/// The `struct page` layout and encodings of one kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `SIZE(page)`.
    pub page_struct: usize,
    pub off_flags: usize,
    pub off_mapping: usize,
    pub off_mapcount: Option<usize>,
    pub off_private: Option<usize>,
    /// `OFFSET(page.compound_head)` (`compound_info` since v7.1).
    pub off_compound_head: Option<usize>,
    pub pg_lru: Option<u32>,
    pub pg_private: Option<u32>,
    pub pg_swapcache: Option<u32>,
    pub pg_swapbacked: Option<u32>,
    pub pg_slab: Option<u32>,
    pub pg_hwpoison: Option<u32>,
    pub pg_head_mask: Option<u64>,
    pub buddy: Option<BuddyTest>,
    pub slab_mapcount: Option<u32>,
    pub offline_mapcount: Option<u32>,
    pub unaccepted_mapcount: Option<u32>,
    pub compound: Compound,
    /// Values of the compound destructor that mean "hugetlb":
    /// `NUMBER(HUGETLB_PAGE_DTOR)` and/or `SYMBOL(free_huge_page)`.
    pub hugetlb_dtors: [Option<u64>; 2],
    /// `LENGTH(zone.free_area)`: number of buddy orders.
    pub nr_orders: Option<u32>,
}

/// Read `N` bytes at `off`, `None` when out of bounds.
pub(crate) fn rd<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// The `major.minor` of `OSRELEASE` (e.g. `6.1.0-56-amd64` → (6, 1)).
pub(crate) fn kernel_version(info: &VmcoreInfo) -> Option<(u32, u32)> {
    let rel = info.osrelease()?;
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// `NUMBER(name)` as a flag bit number, only if it fits a 64-bit word.
fn bit(info: &VmcoreInfo, name: &str) -> Option<u32> {
    let v = info.number(name)?;
    (0..64).contains(&v).then_some(v as u32)
}

/// `NUMBER(name)` as the 32-bit `_mapcount` word the kernel stores: the
/// values are `int`s (often negative) and are compared bit for bit.
fn mapcount_value(info: &VmcoreInfo, name: &str) -> Option<u32> {
    info.number(name).map(|v| v as u32)
}

impl Layout {
    /// Read the layout from VMCOREINFO; fails only when the fields every
    /// page test needs are missing or absurd.
    pub(crate) fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<Layout, Error> {
        let need = |v: Option<u64>, key: &str| {
            v.ok_or_else(|| Error::MissingKey {
                key: key.to_string(),
                purpose: "reading struct page",
            })
        };
        let page_struct = need(info.size("page"), "SIZE(page)")?;
        if !(16..=4096).contains(&page_struct) {
            return Err(Error::BadValue {
                key: "SIZE(page)".into(),
                value: page_struct.into(),
                why: "not between 16 and 4096 bytes",
            });
        }
        let page_struct = page_struct as usize;
        // A field is usable only if a word at its offset fits in the struct.
        let field = |name: &str, len: usize| {
            info.offset(name)
                .and_then(|o| usize::try_from(o).ok())
                .filter(|&o| o.checked_add(len).is_some_and(|e| e <= page_struct))
        };
        let off_flags = field("page.flags", 8).ok_or_else(|| Error::MissingKey {
            key: "OFFSET(page.flags)".into(),
            purpose: "reading struct page",
        })?;
        let off_mapping = field("page.mapping", 8).ok_or_else(|| Error::MissingKey {
            key: "OFFSET(page.mapping)".into(),
            purpose: "reading struct page",
        })?;
        let off_mapcount = field("page._mapcount", 4);
        let off_private = field("page.private", 8);
        let off_compound_head =
            field("page.compound_head", 8).or_else(|| field("page.compound_info", 8));

        let version = kernel_version(info);
        let at_least = |maj: u32, min: u32| version.is_none_or(|v| v >= (maj, min));

        // Buddy detection needs page.private for the order (as makedumpfile).
        let buddy = match (off_private, off_mapcount) {
            (None, _) => None,
            (Some(_), mc) => match info.number("PAGE_BUDDY_MAPCOUNT_VALUE") {
                Some(v) => mc.map(|_| BuddyTest::Mapcount(v as u32)),
                None => bit(info, "PG_buddy").map(BuddyTest::Flag),
            },
        };
        // Page types live in _mapcount: without its offset none can be read.
        let mc = |name: &str| off_mapcount.and(mapcount_value(info, name));

        let compound = if let Some(v) = mc("PAGE_HUGETLB_MAPCOUNT_VALUE") {
            Compound::HugetlbMapcount(v)
        } else if let Some(b) = bit(info, "PG_hugetlb") {
            Compound::HugetlbFlag(b)
        } else {
            // In 6.3–6.5 the fields moved to struct folio, whose second page
            // starts SIZE(page) bytes in.
            let folio = |name: &str| {
                info.offset(name)
                    .and_then(|o| usize::try_from(o).ok())
                    .and_then(|o| o.checked_sub(page_struct))
            };
            let lru = info
                .offset("page.lru")
                .and_then(|o| usize::try_from(o).ok());
            let lru_next = info
                .offset("list_head.next")
                .and_then(|o| usize::try_from(o).ok());
            let lru_prev = info
                .offset("list_head.prev")
                .and_then(|o| usize::try_from(o).ok());
            let old = !at_least(4, 4);
            let narrow = if at_least(4, 16) {
                Width::U8
            } else {
                Width::U16
            };
            let order_off = folio("folio._folio_order")
                .or_else(|| info.offset("page.compound_order").map(|o| o as usize))
                .or_else(|| {
                    old.then(|| lru.zip(lru_prev).and_then(|(a, b)| a.checked_add(b)))
                        .flatten()
                });
            let dtor_off = folio("folio._folio_dtor")
                .or_else(|| info.offset("page.compound_dtor").map(|o| o as usize))
                .or_else(|| {
                    old.then(|| lru.zip(lru_next).and_then(|(a, b)| a.checked_add(b)))
                        .flatten()
                });
            let dtor_width = if old { Width::U64 } else { narrow };
            Compound::Fields {
                order: order_off.map(|o| (o, narrow)),
                dtor: dtor_off.map(|o| (o, dtor_width)),
            }
        };

        Ok(Layout {
            page_struct,
            off_flags,
            off_mapping,
            off_mapcount,
            off_private,
            off_compound_head,
            pg_lru: bit(info, "PG_lru"),
            pg_private: bit(info, "PG_private"),
            pg_swapcache: bit(info, "PG_swapcache"),
            pg_swapbacked: bit(info, "PG_swapbacked"),
            pg_slab: bit(info, "PG_slab"),
            pg_hwpoison: bit(info, "PG_hwpoison"),
            pg_head_mask: info
                .number("PG_head_mask")
                .map(|v| v as u64)
                .filter(|&m| m != 0),
            buddy,
            slab_mapcount: mc("PAGE_SLAB_MAPCOUNT_VALUE"),
            offline_mapcount: mc("PAGE_OFFLINE_MAPCOUNT_VALUE"),
            unaccepted_mapcount: mc("PAGE_UNACCEPTED_MAPCOUNT_VALUE"),
            compound,
            hugetlb_dtors: [
                info.number("HUGETLB_PAGE_DTOR").map(|v| v as u64),
                info.symbol("free_huge_page"),
            ],
            nr_orders: info
                .length("zone.free_area")
                .and_then(|v| u32::try_from(v).ok())
                .filter(|&v| (1..=64).contains(&v)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parse() {
        let i = VmcoreInfo::parse(b"OSRELEASE=6.12.3-arch1\n");
        assert_eq!(kernel_version(&i), Some((6, 12)));
        let i = VmcoreInfo::parse(b"OSRELEASE=garbage\n");
        assert_eq!(kernel_version(&i), None);
    }

    #[test]
    fn width_reads_are_bounded() {
        let b = [1u8, 2, 3];
        assert_eq!(Width::U8.read(&b, 2), Some(3));
        assert_eq!(Width::U16.read(&b, 2), None);
        assert_eq!(Width::U64.read(&b, usize::MAX), None);
    }
}
