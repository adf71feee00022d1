//! The national scheme's rules, level by level, with every refusal named.

use super::*;

#[test]
fn every_level_parses_its_digits_and_names_its_parents() {
    let block = BlockCode::parse("430302001004017").unwrap();
    assert_eq!(block.community().as_str(), "430302001004");
    assert_eq!(block.subdistrict().as_str(), "430302001");
    assert_eq!(block.district().as_str(), "430302");
    assert_eq!(block.number(), 17);
    assert_eq!(block.name(), "blocks/430302001004017");
    assert_eq!(BlockCode::parse_name(&block.name()).unwrap(), block);
    let district = DistrictCode::parse("430302").unwrap();
    let built = district
        .subdistrict(1)
        .and_then(|subdistrict| subdistrict.community(4))
        .and_then(|community| community.block(17))
        .unwrap();
    assert_eq!(built, block);
}

#[test]
fn wrong_lengths_letters_and_zero_segments_are_refused_saying_which() {
    assert!(matches!(
        BlockCode::parse("43030200100401"),
        Err(CodeError::WrongLength {
            expected: 15,
            actual: 14,
            ..
        })
    ));
    assert!(matches!(
        SubdistrictCode::parse("43030200a"),
        Err(CodeError::NotADigit {
            found: 'a',
            position: 8,
            ..
        })
    ));
    assert!(matches!(
        BlockCode::parse("430302001004000"),
        Err(CodeError::ZeroSegment {
            segment: "block number",
            ..
        })
    ));
    assert!(matches!(
        DistrictCode::parse("430300"),
        Err(CodeError::ZeroSegment {
            segment: "county part",
            ..
        })
    ));
    assert!(matches!(
        DistrictCode::parse("000302"),
        Err(CodeError::ZeroSegment {
            segment: "province part",
            ..
        })
    ));
    assert!(matches!(
        CommunityCode::parse("430302000004"),
        Err(CodeError::ZeroSegment {
            segment: "subdistrict number",
            ..
        })
    ));
    assert!(
        DistrictCode::parse("430302")
            .unwrap()
            .subdistrict(1000)
            .is_err()
    );
    assert!(BlockCode::parse_name("communities/430302001004").is_err());
}

#[test]
fn a_division_of_any_level_covers_what_lies_inside_it() {
    let subdistrict = DivisionCode::parse("430302001").unwrap();
    let block = DivisionCode::parse_name("blocks/430302001004017").unwrap();
    let elsewhere = DivisionCode::parse("430302002004017").unwrap();
    assert_eq!(subdistrict.level(), DivisionLevel::Subdistrict);
    assert!(subdistrict.covers(&block));
    assert!(subdistrict.covers(&subdistrict));
    assert!(!subdistrict.covers(&elsewhere));
    assert!(!block.covers(&subdistrict));
    assert!(DivisionCode::parse("4303020").is_err());
    assert!(DivisionCode::parse_name("towns/430302001").is_err());
    assert!(DivisionCode::parse_name("blocks/430302001").is_err());
}

#[test]
fn codes_order_numerically_and_round_trip_through_serde() {
    let low = BlockCode::parse("430302001004009").unwrap();
    let high = BlockCode::parse("430302001004017").unwrap();
    assert!(low < high);
    let json = serde_json::to_string(&high).unwrap();
    assert_eq!(json, "\"430302001004017\"");
    assert_eq!(serde_json::from_str::<BlockCode>(&json).unwrap(), high);
    assert!(serde_json::from_str::<BlockCode>("\"43\"").is_err());
}

#[test]
fn a_valid_district_code_parses_and_prints_back() {
    let code = DistrictCode::parse("430302").expect("valid district");
    assert_eq!(code.to_string(), "430302");
}

#[test]
fn a_district_code_of_the_wrong_length_names_the_value_and_the_rule() {
    let error = DistrictCode::parse("43030").expect_err("too short");
    assert_eq!(
        error,
        CodeError::WrongLength {
            level: "district",
            value: "43030".into(),
            expected: 6,
            actual: 5
        }
    );
    assert_eq!(
        error.to_string(),
        "district code \"43030\" must have exactly 6 digits, has 5 characters"
    );
    assert!(matches!(
        DistrictCode::parse("4303021"),
        Err(CodeError::WrongLength { actual: 7, .. })
    ));
    assert_eq!(
        DistrictCode::parse("").unwrap_err().to_string(),
        "district code is empty"
    );
    assert_eq!(
        DivisionCode::parse("").unwrap_err().to_string(),
        "division code is empty"
    );
}

#[test]
fn a_code_with_a_non_digit_names_the_character_and_its_position() {
    let error = DistrictCode::parse("43a302").expect_err("letter");
    assert_eq!(
        error,
        CodeError::NotADigit {
            level: "district",
            value: "43a302".into(),
            found: 'a',
            position: 2
        }
    );
    assert!(matches!(
        DistrictCode::parse(" 43030"),
        Err(CodeError::NotADigit {
            found: ' ',
            position: 0,
            ..
        })
    ));
    assert!(matches!(
        DistrictCode::parse("-43030"),
        Err(CodeError::NotADigit { found: '-', .. })
    ));
}

#[test]
fn non_ascii_digits_are_rejected_even_though_unicode_calls_them_digits() {
    // Fullwidth and Arabic-Indic digits must not sneak into a code.
    assert!(matches!(
        DistrictCode::parse("４３0302"),
        Err(CodeError::NotADigit { found: '４', .. })
    ));
    assert!(matches!(
        DistrictCode::parse("٤30302"),
        Err(CodeError::NotADigit { position: 0, .. })
    ));
}

#[test]
fn a_prefecture_city_code_is_not_a_district() {
    let error = DistrictCode::parse("430300").expect_err("city");
    assert_eq!(
        error.to_string(),
        "district code \"430300\" has county part \"00\", which must not be all zeros"
    );
    assert!(matches!(
        DistrictCode::parse("000302"),
        Err(CodeError::ZeroSegment {
            segment: "province part",
            ..
        })
    ));
}

#[test]
fn a_subdistrict_code_knows_its_district_and_number() {
    let code = SubdistrictCode::parse("430302001").expect("valid subdistrict");
    assert_eq!(
        code.district(),
        DistrictCode::parse("430302").expect("valid")
    );
    assert_eq!(code.number(), 1);
    assert_eq!(code.to_string(), "430302001");
}

#[test]
fn a_subdistrict_code_with_number_zero_is_rejected() {
    let error = SubdistrictCode::parse("430302000").expect_err("zero");
    assert!(matches!(
        error,
        CodeError::ZeroSegment {
            segment: "subdistrict number",
            ..
        }
    ));
    assert!(matches!(
        SubdistrictCode::parse("430300001"),
        Err(CodeError::ZeroSegment {
            segment: "county part",
            ..
        })
    ));
    assert!(matches!(
        SubdistrictCode::parse("43030200"),
        Err(CodeError::WrongLength { expected: 9, .. })
    ));
}

#[test]
fn a_community_code_knows_its_subdistrict_and_district() {
    let code = CommunityCode::parse("430302001002").expect("valid community");
    assert_eq!(code.subdistrict().to_string(), "430302001");
    assert_eq!(code.district().to_string(), "430302");
    assert_eq!(code.number(), 2);
}

#[test]
fn a_community_code_rejects_zero_segments_at_every_level() {
    assert!(matches!(
        CommunityCode::parse("430302000002"),
        Err(CodeError::ZeroSegment {
            segment: "subdistrict number",
            ..
        })
    ));
    assert!(matches!(
        CommunityCode::parse("430302001000"),
        Err(CodeError::ZeroSegment {
            segment: "community number",
            ..
        })
    ));
    assert!(matches!(
        CommunityCode::parse("000302001002"),
        Err(CodeError::ZeroSegment {
            segment: "province part",
            ..
        })
    ));
    assert!(matches!(
        CommunityCode::parse("43030200100"),
        Err(CodeError::WrongLength { expected: 12, .. })
    ));
}

#[test]
fn a_block_code_knows_every_ancestor() {
    let code = BlockCode::parse("430302001002017").expect("valid block");
    assert_eq!(code.community().to_string(), "430302001002");
    assert_eq!(code.subdistrict().to_string(), "430302001");
    assert_eq!(code.district().to_string(), "430302");
    assert_eq!(code.number(), 17);
    assert_eq!(code.to_string(), "430302001002017");
}

#[test]
fn a_block_code_rejects_every_malformed_shape() {
    assert!(
        matches!(BlockCode::parse("430302001002000"), Err(CodeError::ZeroSegment { segment: "block number", digits, .. }) if digits == "000")
    );
    assert!(matches!(
        BlockCode::parse("430302001000017"),
        Err(CodeError::ZeroSegment {
            segment: "community number",
            ..
        })
    ));
    assert!(matches!(
        BlockCode::parse("430302000002017"),
        Err(CodeError::ZeroSegment {
            segment: "subdistrict number",
            ..
        })
    ));
    assert!(matches!(
        BlockCode::parse("430300001002017"),
        Err(CodeError::ZeroSegment {
            segment: "county part",
            ..
        })
    ));
    assert!(matches!(
        BlockCode::parse("43030200100201"),
        Err(CodeError::WrongLength {
            expected: 15,
            actual: 14,
            ..
        })
    ));
    assert!(matches!(
        BlockCode::parse("4303020010020170"),
        Err(CodeError::WrongLength { actual: 16, .. })
    ));
    assert!(matches!(
        BlockCode::parse("43030200100201x"),
        Err(CodeError::NotADigit { position: 14, .. })
    ));
    assert!(matches!(
        BlockCode::parse("430302001002017 "),
        Err(CodeError::NotADigit {
            found: ' ',
            position: 15,
            ..
        })
    ));
}

#[test]
fn children_built_from_parents_match_parsed_codes() {
    let district = DistrictCode::parse("430302").expect("valid");
    let block = district
        .subdistrict(1)
        .and_then(|subdistrict| subdistrict.community(2))
        .and_then(|community| community.block(17))
        .expect("all numbers in range");
    assert_eq!(block, BlockCode::parse("430302001002017").expect("valid"));
}

#[test]
fn child_numbers_outside_one_to_999_are_rejected() {
    let district = DistrictCode::parse("430302").expect("valid");
    assert_eq!(
        district.subdistrict(0),
        Err(CodeError::NumberOutOfRange {
            level: "subdistrict",
            number: 0
        })
    );
    assert!(district.subdistrict(1000).is_err());
    let community = CommunityCode::parse("430302001002").expect("valid");
    assert!(community.block(999).is_ok());
    assert_eq!(
        community.block(1000).expect_err("too big").to_string(),
        "block number 1000 must be between 1 and 999"
    );
}

#[test]
fn codes_order_like_their_text_so_children_sort_under_parents() {
    let mut codes: Vec<BlockCode> = [
        "430302002001001",
        "430302001002017",
        "430302001002003",
        "430302001010001",
    ]
    .iter()
    .map(|text| BlockCode::parse(text).expect("valid"))
    .collect();
    codes.sort();
    let texts: Vec<String> = codes.iter().map(ToString::to_string).collect();
    let mut sorted_texts = texts.clone();
    sorted_texts.sort();
    assert_eq!(texts, sorted_texts);
    assert_eq!(texts[0], "430302001002003");
}

#[test]
fn codes_serialize_as_strings_and_deserialize_through_parse() {
    let code = BlockCode::parse("430302001002017").expect("valid");
    assert_eq!(
        serde_json::to_string(&code).expect("serializes"),
        "\"430302001002017\""
    );
    let back: BlockCode = serde_json::from_str("\"430302001002017\"").expect("deserializes");
    assert_eq!(back, code);
    let error =
        serde_json::from_str::<BlockCode>("\"430302001002000\"").expect_err("zero block number");
    assert!(error.to_string().contains("block number"));
    assert!(
        serde_json::from_str::<BlockCode>("430302001002017").is_err(),
        "a JSON number is not a code"
    );
}

#[test]
fn from_str_is_the_same_as_parse() {
    let parsed: SubdistrictCode = "430302008".parse().expect("valid");
    assert_eq!(parsed.number(), 8);
    assert!("43030200x".parse::<SubdistrictCode>().is_err());
}

#[test]
fn a_division_code_of_another_levels_length_is_refused_naming_both_lengths() {
    let cases: [(&str, Result<(), CodeError>); 6] = [
        ("430302", SubdistrictCode::parse("430302").map(drop)),
        ("4303020010", SubdistrictCode::parse("4303020010").map(drop)),
        ("430302001", CommunityCode::parse("430302001").map(drop)),
        (
            "4303020010041",
            CommunityCode::parse("4303020010041").map(drop),
        ),
        ("430302001004", BlockCode::parse("430302001004").map(drop)),
        (
            "4303020010040170",
            BlockCode::parse("4303020010040170").map(drop),
        ),
    ];
    for (value, result) in cases {
        let error = result.unwrap_err();
        assert!(
            matches!(&error, CodeError::WrongLength { value: found, actual, .. }
                if found == value && *actual == value.len()),
            "{value:?} gave {error:?}"
        );
    }
    let message = BlockCode::parse("430302001004").unwrap_err().to_string();
    assert_eq!(
        message,
        "block code \"430302001004\" must have exactly 15 digits, has 12 characters"
    );
}

#[test]
fn a_division_code_with_anything_but_digits_is_refused_naming_the_character() {
    for (bad, found, position) in [
        ("43030200a", 'a', 8),
        (" 43030200", ' ', 0),
        ("430302-01", '-', 6),
        ("yuhu-lu", 'y', 0),
        ("４30302001", '４', 0),
        ("43030200１", '１', 8),
    ] {
        let error = SubdistrictCode::parse(bad).unwrap_err();
        assert_eq!(
            error,
            CodeError::NotADigit {
                level: "subdistrict",
                value: bad.to_owned(),
                found,
                position,
            },
            "{bad:?}"
        );
    }
    assert_eq!(
        SubdistrictCode::parse("yuhu-lu").unwrap_err().to_string(),
        "subdistrict code \"yuhu-lu\" must contain only digits 0-9, found 'y' at position 0"
    );
}

#[test]
fn a_division_code_with_an_all_zero_part_is_refused_naming_the_part() {
    for (bad, segment, digits) in [
        ("003020010", "province part", "00"),
        ("430300001", "county part", "00"),
        ("430302000", "subdistrict number", "000"),
    ] {
        assert_eq!(
            SubdistrictCode::parse(bad).unwrap_err(),
            CodeError::ZeroSegment {
                level: "subdistrict",
                value: bad.to_owned(),
                segment,
                digits: digits.to_owned(),
            },
            "{bad:?}"
        );
    }
    assert!(matches!(
        BlockCode::parse("430302000004017"),
        Err(CodeError::ZeroSegment {
            segment: "subdistrict number",
            ..
        })
    ));
    assert!(
        SubdistrictCode::parse("430302100").is_ok(),
        "zeros inside a part are fine"
    );
}

#[test]
fn a_division_contains_exactly_the_divisions_whose_codes_start_with_its_own() {
    let subdistrict = SubdistrictCode::parse("430302001").unwrap();
    assert!(subdistrict.contains("430302001"));
    assert!(subdistrict.contains("430302001004"));
    assert!(subdistrict.contains("430302001004017"));
    assert!(!subdistrict.contains("430302002004017"));
    assert!(!subdistrict.contains("430302"));
    let community = CommunityCode::parse("430302001004").unwrap();
    assert!(!community.contains("430302001005017"));
    let block = BlockCode::parse("430302001004017").unwrap();
    assert_eq!(block.community().subdistrict(), block.subdistrict());
    assert_eq!(block.subdistrict().district().as_str(), "430302");
}
