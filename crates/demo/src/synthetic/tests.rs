use super::*;
use std::collections::HashSet;

#[test]
fn the_generator_is_fixed_by_its_seed() {
    let first: Vec<u64> = {
        let mut random = SplitMix64::new(7);
        (0..4).map(|_| random.next_u64()).collect()
    };
    let mut again = SplitMix64::new(7);
    assert_eq!(first, (0..4).map(|_| again.next_u64()).collect::<Vec<_>>());
    // Reference values of SplitMix64 for seed 0 (first outputs of the published algorithm).
    let mut zero = SplitMix64::new(0);
    assert_eq!(zero.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(zero.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}

#[test]
fn uniform_draws_stay_in_their_ranges() {
    let mut random = SplitMix64::new(1);
    for _ in 0..10_000 {
        let unit = random.next_f64();
        assert!((0.0..1.0).contains(&unit));
        assert!(random.below(7) < 7);
        let ranged = random.range_f64(-2.0, 3.0);
        assert!((-2.0..3.0).contains(&ranged));
    }
}

#[test]
fn a_tiling_has_exactly_the_requested_blocks_with_unique_codes() {
    for count in [1, 2, 3, 7, 326, 1_000] {
        let made = tiling(5, count, Bounds::around_xiangtan(count)).expect("valid request");
        assert_eq!(made.blocks.len(), count);
        let codes: HashSet<BlockCode> = made.blocks.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes.len(), count);
        assert!(
            made.blocks.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "codes ascend"
        );
    }
}

#[test]
fn tiling_codes_roll_over_communities_of_999_blocks() {
    let made = tiling(5, 1_200, Bounds::around_xiangtan(1_200)).expect("valid request");
    assert_eq!(made.blocks[998].0.to_string(), "430302001001999");
    assert_eq!(made.blocks[999].0.to_string(), "430302001002001");
}

#[test]
fn a_tiling_is_the_same_for_the_same_seed_and_differs_for_another() {
    let bounds = Bounds::around_xiangtan(100);
    let first = tiling(9, 100, bounds).expect("valid");
    let again = tiling(9, 100, bounds).expect("valid");
    let other = tiling(10, 100, bounds).expect("valid");
    assert_eq!(first.blocks, again.blocks);
    assert_ne!(first.blocks, other.blocks);
}

#[test]
fn impossible_tilings_are_refused() {
    let bounds = Bounds::around_xiangtan(10);
    assert!(matches!(
        tiling(1, 0, bounds),
        Err(SyntheticError::BlockCount { requested: 0, .. })
    ));
    assert!(matches!(
        tiling(1, MAX_TILING_BLOCKS + 1, bounds),
        Err(SyntheticError::BlockCount { .. })
    ));
    let inverted = Bounds {
        west: 1.0,
        south: 0.0,
        east: 0.0,
        north: 1.0,
    };
    assert_eq!(
        tiling(1, 10, inverted).expect_err("inverted").to_string(),
        "tiling bounds must be finite with west < east and south < north"
    );
    let infinite = Bounds {
        west: 0.0,
        south: 0.0,
        east: f64::INFINITY,
        north: 1.0,
    };
    assert!(tiling(1, 10, infinite).is_err());
}

#[test]
fn the_demo_district_has_eight_named_subdistricts_and_326_blocks() {
    let demo = demo_district(DEMO_SEED).expect("demo builds");
    assert_eq!(demo.code.to_string(), "430302");
    assert!(demo.name.as_str().contains("synthetic"));
    let names: Vec<&str> = demo
        .subdistricts
        .iter()
        .map(|subdistrict| subdistrict.boundary.name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "雨湖路街道",
            "城正街街道",
            "云塘街道",
            "广场街道",
            "窑湾街道",
            "昭潭街道",
            "先锋街道",
            "万楼街道"
        ]
    );
    let codes: Vec<String> = demo
        .subdistricts
        .iter()
        .map(|subdistrict| subdistrict.boundary.code.to_string())
        .collect();
    assert_eq!(
        codes,
        (1..=8)
            .map(|number| format!("430302{number:03}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(demo.subdistricts[0].slug, "yuhulu");
    assert_eq!(demo.blocks.len(), 326);
    let unique: HashSet<BlockCode> = demo.blocks.iter().map(|block| block.code).collect();
    assert_eq!(unique.len(), 326);
}

#[test]
fn every_demo_subdistrict_has_a_few_communities_and_blocks_name_theirs() {
    let demo = demo_district(DEMO_SEED).expect("demo builds");
    for subdistrict in &demo.subdistricts {
        let count = demo
            .communities
            .iter()
            .filter(|community| community.code.subdistrict() == subdistrict.boundary.code)
            .count();
        assert!(
            (2..=4).contains(&count),
            "{} has {count} communities",
            subdistrict.boundary.name
        );
    }
    let community_names: HashSet<&str> = demo
        .communities
        .iter()
        .map(|community| community.name.as_str())
        .collect();
    assert_eq!(
        community_names.len(),
        demo.communities.len(),
        "community names are unique in the district"
    );
    for block in &demo.blocks {
        let community = demo
            .communities
            .iter()
            .find(|community| community.code == block.code.community())
            .expect("community exists");
        assert_eq!(block.community_name.as_ref(), Some(&community.name));
    }
    let first = &demo.blocks[0];
    assert_eq!(first.code.to_string(), "430302001001001");
    assert_eq!(first.name.as_str(), "雨湖路第001区块");
}

#[test]
fn the_demo_district_lies_near_xiangtan() {
    let demo = demo_district(DEMO_SEED).expect("demo builds");
    for block in &demo.blocks {
        for coord in block.geometry.0[0].exterior().0.iter() {
            assert!(
                (112.895..112.975).contains(&coord.x) && (27.815..27.905).contains(&coord.y),
                "{coord:?}"
            );
        }
    }
}
