//! The emulated tenant: Microsoft's token endpoint, Exchange admin API and Graph reads on a
//! loopback port, with the service's rules and quirks.
