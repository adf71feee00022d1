//! Synthetic resident ID numbers (居民身份证号码) that pass the GB 11643
//! check, for journeys that register people in difficulty.

/// `first_seventeen` digits (region, birth date, sequence) completed with
/// their GB 11643-1999 check character. Panics unless given 17 digits.
pub fn with_check_character(first_seventeen: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let digits: Vec<u32> = first_seventeen
        .chars()
        .map(|character| character.to_digit(10))
        .collect::<Option<_>>()
        .unwrap_or_else(|| panic!("{first_seventeen:?} holds a non-digit"));
    assert_eq!(digits.len(), 17, "{first_seventeen:?} is not 17 digits");
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| digit * weight)
        .sum();
    format!("{first_seventeen}{}", CHECK[(sum % 11) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standards_example_gets_its_check_character() {
        // The example of GB 11643-1999 itself, and one worked by hand
        // (weighted sum 203, 203 mod 11 = 5 → 7).
        assert_eq!(
            with_check_character("11010519491231002"),
            "11010519491231002X"
        );
        assert_eq!(
            with_check_character("43030219480315002"),
            "430302194803150027"
        );
    }

    #[test]
    #[should_panic(expected = "is not 17 digits")]
    fn sixteen_digits_are_refused() {
        with_check_character("4303021948031500");
    }
}
