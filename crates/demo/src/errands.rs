//! The demo district's catalogue of convenience matters (便民事项), as
//! `flatgov demo load` publishes it to the errands service and its tests and
//! the journeys use it: twelve everyday
//! matters a Hunan subdistrict centre handles, each decided by a department
//! of the duties service's reference list. The limits, materials and fees
//! follow the public service guides (办事指南) of such matters; a real
//! district publishes its own through `PublishCatalogue`.

use flatgov_proto::errands::v1::{Material, Matter};

/// `(code, zh-CN, English, required)`.
type Item = (&'static str, &'static str, &'static str, bool);

const ID_CARD: Item = ("id_card", "居民身份证", "Resident identity card", true);
const HOUSEHOLD_REGISTER: Item = ("household_register", "户口簿", "Household register", true);
const PHOTO: Item = ("photo", "近期免冠照片", "Recent photograph", true);
const BANK_CARD: Item = (
    "bank_card",
    "本人银行卡或存折",
    "Own bank card or passbook",
    true,
);

#[allow(clippy::too_many_arguments)] // one row of the guide
fn matter(
    code: &str,
    name_zh: &str,
    name_en: &str,
    department: &str,
    materials: &[Item],
    (proxy_allowed, in_person_required): (bool, bool),
    (statutory, promised): (u32, u32),
    (fee_fen, fee_note): (i64, &str),
    usual_trips: u32,
) -> Matter {
    Matter {
        code: code.to_owned(),
        name_zh: name_zh.to_owned(),
        name_en: name_en.to_owned(),
        deciding_department: department.to_owned(),
        materials: materials
            .iter()
            .map(|(code, zh, en, required)| Material {
                code: (*code).to_owned(),
                name_zh: (*zh).to_owned(),
                name_en: (*en).to_owned(),
                required: *required,
                ..Default::default()
            })
            .collect(),
        proxy_allowed,
        in_person_required,
        statutory_limit_days: statutory,
        promised_limit_days: promised,
        fee_fen,
        fee_note: fee_note.to_owned(),
        usual_trips,
        ..Default::default()
    }
}

/// The twelve matters of the demo district, in the order the centre lists
/// them.
pub fn demo_catalogue() -> Vec<Matter> {
    vec![
        matter(
            "pension_annual_review",
            "养老金领取资格年审",
            "Pension qualification annual review",
            "human_resources_social_security",
            &[
                ID_CARD,
                (
                    "face_check",
                    "人脸识别认证记录",
                    "Face recognition check record",
                    true,
                ),
            ],
            (true, true),
            (20, 3),
            (0, ""),
            2,
        ),
        matter(
            "medical_insurance_payment",
            "城乡居民医疗保险缴费",
            "Urban-rural residents' medical insurance payment",
            "medical_insurance",
            &[ID_CARD, HOUSEHOLD_REGISTER],
            (true, false),
            (5, 1),
            (
                38_000,
                "2026年度个人缴费标准每人380元，低保、特困人员由财政资助",
            ),
            1,
        ),
        matter(
            "subsistence_allowance",
            "最低生活保障申请",
            "Subsistence allowance (dibao) application",
            "civil_affairs",
            &[
                ID_CARD,
                HOUSEHOLD_REGISTER,
                (
                    "income_proof",
                    "家庭收入证明",
                    "Household income statement",
                    true,
                ),
                (
                    "property_declaration",
                    "家庭财产申报表",
                    "Household property declaration",
                    true,
                ),
                (
                    "authorisation",
                    "家庭经济状况核对授权书",
                    "Authorisation to check the household's finances",
                    true,
                ),
                (
                    "disability_certificate",
                    "残疾人证（如有）",
                    "Disability certificate (if any)",
                    false,
                ),
            ],
            (true, false),
            (30, 20),
            (0, ""),
            3,
        ),
        matter(
            "disability_certificate",
            "残疾人证办理",
            "Disability certificate",
            "disabled_persons_federation",
            &[
                ID_CARD,
                HOUSEHOLD_REGISTER,
                PHOTO,
                (
                    "assessment",
                    "残疾评定表",
                    "Disability assessment form",
                    true,
                ),
            ],
            (true, true),
            (20, 10),
            (0, ""),
            3,
        ),
        matter(
            "elderly_allowance",
            "高龄津贴申领",
            "Elderly allowance",
            "civil_affairs",
            &[ID_CARD, HOUSEHOLD_REGISTER, BANK_CARD],
            (true, false),
            (20, 5),
            (0, ""),
            2,
        ),
        matter(
            "residence_certificate",
            "居住证办理",
            "Residence certificate",
            "public_security",
            &[
                ID_CARD,
                PHOTO,
                (
                    "residence_proof",
                    "居住证明（租赁合同或房产证）",
                    "Proof of residence (lease or title deed)",
                    true,
                ),
            ],
            (true, true),
            (15, 7),
            (0, "首次申领免费"),
            2,
        ),
        matter(
            "pension_insurance_enrolment",
            "城乡居民养老保险参保登记",
            "Urban-rural residents' pension insurance enrolment",
            "human_resources_social_security",
            &[ID_CARD, HOUSEHOLD_REGISTER],
            (true, false),
            (5, 1),
            (0, ""),
            1,
        ),
        matter(
            "unemployment_registration",
            "失业登记",
            "Unemployment registration",
            "human_resources_social_security",
            &[
                ID_CARD,
                (
                    "termination_proof",
                    "解除或终止劳动合同证明",
                    "Proof the employment ended",
                    true,
                ),
            ],
            (true, false),
            (5, 1),
            (0, ""),
            1,
        ),
        matter(
            "temporary_assistance",
            "临时救助申请",
            "Temporary assistance application",
            "civil_affairs",
            &[
                ID_CARD,
                HOUSEHOLD_REGISTER,
                (
                    "hardship_statement",
                    "困难情况说明及相关证明",
                    "Statement of the hardship with proof",
                    true,
                ),
            ],
            (true, false),
            (15, 5),
            (0, ""),
            2,
        ),
        matter(
            "veteran_preferential_treatment",
            "优抚对象定期抚恤补助申领",
            "Veterans' regular benefits",
            "veterans_affairs",
            &[
                ID_CARD,
                (
                    "veteran_certificate",
                    "退役证或优待证",
                    "Discharge or preferential treatment certificate",
                    true,
                ),
                BANK_CARD,
            ],
            (true, false),
            (20, 10),
            (0, ""),
            2,
        ),
        matter(
            "birth_service_registration",
            "生育服务登记",
            "Birth service registration",
            "health",
            &[
                ID_CARD,
                HOUSEHOLD_REGISTER,
                (
                    "marriage_certificate",
                    "结婚证",
                    "Marriage certificate",
                    true,
                ),
            ],
            (true, false),
            (5, 1),
            (0, ""),
            1,
        ),
        matter(
            "disabled_living_allowance",
            "困难残疾人生活补贴和重度残疾人护理补贴",
            "Living and care allowances for people with disabilities",
            "civil_affairs",
            &[
                ID_CARD,
                (
                    "disability_certificate",
                    "残疾人证",
                    "Disability certificate",
                    true,
                ),
                BANK_CARD,
            ],
            (true, false),
            (20, 10),
            (0, ""),
            2,
        ),
    ]
}
