//! Who may see and change which records (DESIGN.md, "Access"). Routes admit roles; these
//! rules decide per record.

use crate::account::{Assignment, Role};
use crate::shift::Shift;
use crate::unit::Unit;

/// The unit an outreach worker writes and reads encounter details for; no other role
/// ever does.
pub fn field_unit(assignment: &Assignment) -> Option<Unit> {
    match assignment.role() {
        Role::OutreachWorker => assignment.unit(),
        _ => None,
    }
}

/// Which shifts a caller sees as shift records and summaries (counts, no person data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftScope {
    /// An outreach worker: the shifts their unit took part in.
    Unit(Unit),
    /// A police liaison: shifts with police.
    WithPolice,
    /// A coordinator: every shift.
    All,
}

impl ShiftScope {
    /// `None` for roles that see no shifts at all (admins, auditors).
    pub fn of(assignment: &Assignment) -> Option<Self> {
        match assignment.role() {
            Role::OutreachWorker => assignment.unit().map(ShiftScope::Unit),
            Role::PoliceLiaison => Some(ShiftScope::WithPolice),
            Role::Coordinator => Some(ShiftScope::All),
            Role::Admin | Role::Auditor => None,
        }
    }

    pub fn admits(&self, shift: &Shift) -> bool {
        match self {
            ShiftScope::Unit(unit) => shift.draft.units().contains(unit),
            ShiftScope::WithPolice => shift.draft.with_police(),
            ShiftScope::All => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outreach_workers_have_a_field_unit() {
        let worker = Assignment::new(Role::OutreachWorker, Some(Unit::Kast)).unwrap();
        assert_eq!(field_unit(&worker), Some(Unit::Kast));
        for role in [
            Role::Admin,
            Role::Auditor,
            Role::Coordinator,
            Role::PoliceLiaison,
        ] {
            let a = Assignment::new(role, None).unwrap();
            assert_eq!(field_unit(&a), None);
        }
        assert_eq!(
            ShiftScope::of(&Assignment::new(Role::Auditor, None).unwrap()),
            None
        );
        assert_eq!(
            ShiftScope::of(&Assignment::new(Role::Admin, None).unwrap()),
            None
        );
    }
}
