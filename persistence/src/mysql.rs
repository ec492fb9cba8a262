//! MySQL/MariaDB journal (to be written).
