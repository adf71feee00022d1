//! The words every flatgov service uses, parsed once: division codes
//! ([`division`]), snake-case codes of matters, departments and organisations
//! ([`code`]), phone numbers ([`phone`]), resource names ([`name`]), request ids
//! ([`request_id`]) and the coordinate systems points arrive in ([`coordinates`]).
//! Each is a newtype built only through `parse`, with its rule and exhaustive tests here, so a value of the type is valid wherever it travels and no
//! service keeps its own copy of a rule.

pub mod attachment;
pub mod code;
pub mod coordinates;
pub mod division;
pub mod id_number;
pub mod name;
pub mod phone;
pub mod request_id;

#[doc(hidden)]
pub use serde as __serde;

pub use attachment::{MAX_ATTACHMENT_CHARS, attachment_reference};
pub use code::{DepartmentCode, MatterCode, OrganisationCode, SnakeCodeError};
pub use coordinates::CoordinateSystem;
pub use division::{
    BlockCode, CodeError, CommunityCode, DistrictCode, DivisionCode, DivisionLevel, SubdistrictCode,
};
pub use id_number::{IdNumber, IdNumberError};
pub use name::{NameError, id_in, name_of, parse_id};
pub use phone::{PhoneError, PhoneNumber};
pub use request_id::{InvalidRequestId, RequestId};
