//! `pamform import` (and the end of `pamform export`): the imported address, and the tenant's
//! PAM objects that state still does not manage.

use std::io::Write;

use super::Printer;
use super::style::{self, paint};
use crate::drift::Unmanaged;
use crate::model::{Address, ResourceType};

/// `address` was imported as the object `id`.
pub fn imported(printer: &Printer, address: &Address, id: &str) {
    let shown =
        if address.kind == ResourceType::PrivilegedAccess { String::new() } else { format!(" [id={id}]") };
    let _ = writeln!(
        printer.out(),
        "{}: Import complete{shown}\n\n{}",
        paint(style::BOLD, address),
        paint(
            style::OK,
            "Import successful! The object is now in state; run `pamform plan` to compare it with the configuration."
        )
    );
}

/// The tenant's PAM objects state does not manage, as drift reports them.
pub fn unmanaged(printer: &Printer, unmanaged: &[Unmanaged]) {
    let mut o = printer.out();
    if unmanaged.is_empty() {
        let _ = writeln!(o, "Every PAM object in the tenant is managed.");
        return;
    }
    let _ = writeln!(o, "Still unmanaged in the tenant ({}):", unmanaged.len());
    for u in unmanaged {
        let _ = writeln!(o, "  {} {}: {}", u.kind, u.id, u.description);
    }
}
