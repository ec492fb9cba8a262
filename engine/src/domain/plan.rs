//! The frozen seat layout of one train-date, cut from a template when it opens.

use super::pricing::fare_fen;
use super::seat_class::SeatClass;
use super::timetable::{Carriage, TrainTemplate, TrainType};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Index of a seat within its train-date: carriages in order, rows in order,
/// letters in order.
pub type SeatIndex = u32;

/// Where a seat is, in the terms printed on a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatPosition {
    /// 1-based carriage number.
    pub carriage: u8,
    /// 1-based row.
    pub row: u16,
    /// Index into the carriage's letters.
    pub letter_index: u8,
}

/// An immutable, shareable description of one train-date's seats and stops.
/// Template edits produce a new plan; open train-dates keep theirs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainPlan {
    /// The template as opened; later edits to the train do not reach it.
    pub template: TrainTemplate,
    /// First seat index of each carriage, in carriage order.
    carriage_first_seat: Vec<SeatIndex>,
    /// The classes this train carries, in `SeatClass` order; a class's slot is
    /// its position here and indexes remaining-count tables.
    classes: Vec<SeatClass>,
    seat_count: u32,
}

impl TrainPlan {
    /// Builds the plan; the template must already be valid.
    pub fn new(template: TrainTemplate) -> Self {
        let mut carriage_first_seat = Vec::with_capacity(template.carriages.len());
        let mut next_seat = 0;
        for carriage in &template.carriages {
            carriage_first_seat.push(next_seat);
            next_seat += carriage.seat_count();
        }
        let mut classes: Vec<SeatClass> = template.carriages.iter().map(|c| c.class).collect();
        classes.sort();
        classes.dedup();
        TrainPlan { template, carriage_first_seat, classes, seat_count: next_seat }
    }

    pub fn code(&self) -> &str {
        &self.template.code
    }

    pub fn stop_count(&self) -> usize {
        self.template.stops.len()
    }

    pub fn seat_count(&self) -> u32 {
        self.seat_count
    }

    pub fn classes(&self) -> &[SeatClass] {
        &self.classes
    }

    pub fn class_slot(&self, class: SeatClass) -> Option<usize> {
        self.classes.iter().position(|c| *c == class)
    }

    pub fn carriages(&self) -> &[Carriage] {
        &self.template.carriages
    }

    pub fn carriage(&self, number: u8) -> Option<&Carriage> {
        self.template.carriages.get(usize::from(number).checked_sub(1)?)
    }

    /// Seat indices of one carriage.
    pub fn carriage_seats(&self, number: u8) -> Range<SeatIndex> {
        let index = usize::from(number) - 1;
        let first = self.carriage_first_seat[index];
        first..first + self.template.carriages[index].seat_count()
    }

    /// Carriage numbers of one class, in order.
    pub fn carriages_of(&self, class: SeatClass) -> impl Iterator<Item = u8> + '_ {
        self.template.carriages.iter().filter(move |c| c.class == class).map(|c| c.number)
    }

    pub fn seat_index(&self, carriage: u8, row: u16, letter_index: u8) -> Option<SeatIndex> {
        let layout = self.carriage(carriage)?;
        let letters = layout.letters.len() as u32;
        if row == 0 || row > layout.rows || u32::from(letter_index) >= letters {
            return None;
        }
        let first = self.carriage_first_seat[usize::from(carriage) - 1];
        Some(first + (u32::from(row) - 1) * letters + u32::from(letter_index))
    }

    pub fn position(&self, seat: SeatIndex) -> SeatPosition {
        assert!(seat < self.seat_count, "seat {seat} out of range");
        let carriage_index = self.carriage_first_seat.partition_point(|first| *first <= seat) - 1;
        let carriage = &self.template.carriages[carriage_index];
        let offset = seat - self.carriage_first_seat[carriage_index];
        let letters = carriage.letters.len() as u32;
        SeatPosition {
            carriage: carriage.number,
            row: (offset / letters) as u16 + 1,
            letter_index: (offset % letters) as u8,
        }
    }

    pub fn seat_class(&self, seat: SeatIndex) -> SeatClass {
        let position = self.position(seat);
        self.template.carriages[usize::from(position.carriage) - 1].class
    }

    /// `12F`-style code of a seat within its carriage.
    pub fn seat_code(&self, seat: SeatIndex) -> String {
        let position = self.position(seat);
        let letters = &self.template.carriages[usize::from(position.carriage) - 1].letters;
        let letter = letters.as_bytes()[usize::from(position.letter_index)] as char;
        format!("{:02}{letter}", position.row)
    }

    /// Parses a `12F` seat code within a carriage.
    pub fn parse_seat_code(&self, carriage: u8, code: &str) -> Option<SeatIndex> {
        let layout = self.carriage(carriage)?;
        let code = code.trim();
        let letter = code.chars().last()?.to_ascii_uppercase();
        let row: u16 = code[..code.len() - letter.len_utf8()].parse().ok()?;
        let letter_index = layout.letters.find(letter)? as u8;
        self.seat_index(carriage, row, letter_index)
    }

    pub fn letter_index(&self, carriage: u8, letter: char) -> Option<u8> {
        self.carriage(carriage)?.letters.find(letter).map(|index| index as u8)
    }

    pub fn distance_km(&self, from: usize, to: usize) -> u32 {
        self.template.stops[to].distance_km - self.template.stops[from].distance_km
    }

    pub fn train_type(&self) -> TrainType {
        self.template.train_type()
    }

    /// Ticket price in fen for one passenger of `class` from stop `from` to `to`.
    pub fn fare_fen(&self, class: SeatClass, from: usize, to: usize) -> u64 {
        fare_fen(self.distance_km(from, to), class, self.train_type())
    }
}
