//! Domain words as the proto enums the API and the events share, and back.

use flatgov_proto::errands::v1 as proto;

use crate::domain::{Channel, DecisionResult, ErrandState, TellingChannel};

pub fn channel(channel: Channel) -> proto::Channel {
    match channel {
        Channel::Centre => proto::Channel::Centre,
        Channel::BlockTeam => proto::Channel::BlockTeam,
        Channel::App => proto::Channel::App,
    }
}

pub fn channel_from(value: i32) -> Option<Channel> {
    match proto::Channel::try_from(value).ok()? {
        proto::Channel::Centre => Some(Channel::Centre),
        proto::Channel::BlockTeam => Some(Channel::BlockTeam),
        proto::Channel::App => Some(Channel::App),
        proto::Channel::Unspecified => None,
    }
}

pub fn state(state: ErrandState) -> proto::ErrandState {
    match state {
        ErrandState::Collecting => proto::ErrandState::Collecting,
        ErrandState::AwaitingMaterials => proto::ErrandState::AwaitingMaterials,
        ErrandState::Submitted => proto::ErrandState::Submitted,
        ErrandState::Returned => proto::ErrandState::Returned,
        ErrandState::Decided => proto::ErrandState::Decided,
        ErrandState::Completed => proto::ErrandState::Completed,
    }
}

pub fn state_from(value: i32) -> Option<ErrandState> {
    match proto::ErrandState::try_from(value).ok()? {
        proto::ErrandState::Collecting => Some(ErrandState::Collecting),
        proto::ErrandState::AwaitingMaterials => Some(ErrandState::AwaitingMaterials),
        proto::ErrandState::Submitted => Some(ErrandState::Submitted),
        proto::ErrandState::Returned => Some(ErrandState::Returned),
        proto::ErrandState::Decided => Some(ErrandState::Decided),
        proto::ErrandState::Completed => Some(ErrandState::Completed),
        proto::ErrandState::Unspecified => None,
    }
}

pub fn result(result: DecisionResult) -> proto::Result {
    match result {
        DecisionResult::Approved => proto::Result::Approved,
        DecisionResult::Refused => proto::Result::Refused,
        DecisionResult::Returned => proto::Result::Returned,
    }
}

pub fn result_from(value: i32) -> Option<DecisionResult> {
    match proto::Result::try_from(value).ok()? {
        proto::Result::Approved => Some(DecisionResult::Approved),
        proto::Result::Refused => Some(DecisionResult::Refused),
        proto::Result::Returned => Some(DecisionResult::Returned),
        proto::Result::Unspecified => None,
    }
}

pub fn telling_channel(channel: TellingChannel) -> proto::TellingChannel {
    match channel {
        TellingChannel::Call => proto::TellingChannel::Call,
        TellingChannel::Visit => proto::TellingChannel::Visit,
        TellingChannel::Message => proto::TellingChannel::Message,
    }
}

pub fn telling_channel_from(value: i32) -> Option<TellingChannel> {
    match proto::TellingChannel::try_from(value).ok()? {
        proto::TellingChannel::Call => Some(TellingChannel::Call),
        proto::TellingChannel::Visit => Some(TellingChannel::Visit),
        proto::TellingChannel::Message => Some(TellingChannel::Message),
        proto::TellingChannel::Unspecified => None,
    }
}
