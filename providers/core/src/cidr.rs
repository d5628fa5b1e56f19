use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 network such as `10.0.0.0/16`. Providers carve their subnets out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// The `index`-th sub-block with `extra` more prefix bits.
    pub fn subnet(&self, extra: u8, index: u32) -> Ipv4Cidr {
        let prefix = self.prefix + extra;
        let base = u32::from(self.addr) | (index << (32 - prefix as u32));
        Ipv4Cidr {
            addr: Ipv4Addr::from(base),
            prefix,
        }
    }

    /// The `index`-th of `count` equal blocks (at least four blocks, as the first layout did).
    pub fn nth_of(&self, count: usize, index: usize) -> Ipv4Cidr {
        self.subnet(bits_for(count).max(2), index as u32)
    }
}

/// The prefix bits needed to split a block into `count` parts.
pub fn bits_for(count: usize) -> u8 {
    if count <= 1 {
        0
    } else {
        (usize::BITS - (count - 1).leading_zeros()) as u8
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_equal_blocks() {
        let n = Ipv4Cidr {
            addr: Ipv4Addr::new(10, 0, 0, 0),
            prefix: 16,
        };
        assert_eq!(n.nth_of(3, 2).to_string(), "10.0.128.0/18");
        assert_eq!(n.nth_of(6, 5).to_string(), "10.0.160.0/19");
        assert_eq!(bits_for(1), 0);
        assert_eq!(bits_for(4), 2);
        assert_eq!(bits_for(5), 3);
    }
}
