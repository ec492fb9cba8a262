//! Fares in integer fen: km × class rate × train-type factor, rounded half-up to the fen.

use super::seat_class::SeatClass;
use super::timetable::TrainType;

/// Price of one ticket in fen.
///
/// rate is held as fen per 10 km and the factor as percent, so the exact value
/// is `km * rate * factor / 1000` fen and half-up rounding is one integer step.
pub fn fare_fen(distance_km: u32, class: SeatClass, train_type: TrainType) -> u64 {
    let numerator = u64::from(distance_km) * class.fen_per_10_km() * train_type.fare_factor_percent();
    (numerator + 500) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_shanghai_second_class_on_g_train() {
        // 1318 km × 0.3 yuan × 1.2 = 474.48 yuan
        assert_eq!(fare_fen(1318, SeatClass::Second, TrainType::HighSpeed), 47_448);
    }

    #[test]
    fn rounds_half_up_to_the_fen() {
        // 1 km × 0.3 × 0.8 = 0.24 yuan exactly; 1 km first on D = 0.40
        assert_eq!(fare_fen(1, SeatClass::Second, TrainType::Conventional), 24);
        assert_eq!(fare_fen(1, SeatClass::First, TrainType::Emu), 40);
        // 0.3 × 1.2 = 0.36 per km; 7 km = 2.52 yuan
        assert_eq!(fare_fen(7, SeatClass::Second, TrainType::HighSpeed), 252);
    }
}
