/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** What a `ChannelEvent` reports. */
export type ChannelEventKind =
  /** Presence channels: a user joined (`member`); not sent to the joining connection. */
  | 'MEMBER_ADDED'
  /** Presence channels: a user's last connection left (`member`). */
  | 'MEMBER_REMOVED'
  /** A published message. */
  | 'MESSAGE'
  /** First event of every subscription: from here on nothing published is missed. It comes again, with `recovered: false`, when messages were lost on their way (Redis restarted without them). */
  | 'SUBSCRIBED'
  /** The channel's subscription count changed: `data` is `{"subscriptionCount": n}`. Only for apps with `enableSubscriptionCount`, and not on presence channels. */
  | 'SUBSCRIPTION_COUNT';

/** Counts a publish may return per channel. */
export type ChannelInfoField =
  | 'SUBSCRIPTION_COUNT'
  | 'USER_COUNT';

/** A position in a channel's history. */
export type ChannelPosition = {
  epoch: string;
  offset: number;
};

/** What a GRIP format asks of the connection it reaches. */
export type GripAction =
  /** End the stream, or close the WebSocket (with `code`). */
  | 'CLOSE'
  /** http-stream only: content is available elsewhere (Herald's GRIP stream ignores it). */
  | 'HINT'
  /** Deliver the content. */
  | 'SEND';

/** GRIP `http-response`: the answer a long-polling client gets (`body` or `bodyBase64`). */
export type HttpResponseFormatInput = {
  body?: string | null | undefined;
  /** The body's bytes, base64 (GRIP `body-bin`). */
  bodyBase64?: string | null | undefined;
  /** HTTP status; 200 when absent. */
  code?: number | null | undefined;
  /** String → string map. */
  headers?: unknown;
  reason?: string | null | undefined;
};

/** GRIP `http-stream`: content for streaming HTTP clients (`content` or `contentBase64`). */
export type HttpStreamFormatInput = {
  /** SEND (default), CLOSE or HINT. */
  action?: GripAction | null | undefined;
  content?: string | null | undefined;
  /** The content's bytes, base64 (GRIP `content-bin`). */
  contentBase64?: string | null | undefined;
};

/** GRIP formats to publish with, as a Fanout / GRIP item carries them; without `data`, `data` is derived from them. */
export type MessageFormatsInput = {
  httpResponse?: HttpResponseFormatInput | null | undefined;
  httpStream?: HttpStreamFormatInput | null | undefined;
  wsMessage?: WsMessageFormatInput | null | undefined;
};

export type MessageStatusCode =
  /** A schedule cancelled with `cancelScheduled`; no run follows. */
  | 'CANCELLED'
  /** A run could not be published and the schedule stopped; see `errorMessage`. */
  | 'FAILED'
  /** Published; for a schedule, its last run was. */
  | 'PUBLISHED'
  /** Runs remain (a repeating message stays SCHEDULED between runs). */
  | 'SCHEDULED'
  /** No message with this id, or its status expired. */
  | 'UNKNOWN';

/** One event to publish to 1..100 channels. */
export type PublishInput = {
  channels: Array<string>;
  /** Any JSON value; a string stays a string. */
  data?: unknown;
  /** Event name (default `message`). */
  event?: string | null | undefined;
  /** A connection's socketId that must not receive this event. */
  excludeSocketId?: string | null | undefined;
  /** When the message expires; after it, nobody receives it. */
  expiresAt?: string | null | undefined;
  /** Seconds after publishing when the message expires (not with `expiresAt`). */
  expiresIn?: number | null | undefined;
  /** GRIP formats, for GRIP subscribers (/grip/*) and `ChannelEvent.formats`. */
  formats?: MessageFormatsInput | null | undefined;
  /** String → string map; subscribers' selectors filter on it. */
  headers?: unknown;
  /** Message id; generated when absent. */
  id?: string | number | null | undefined;
  /** Counts to return per channel. */
  info?: Array<ChannelInfoField> | null | undefined;
  /** Content type of `data` (up to 200 printable ASCII characters). */
  mimeType?: string | null | undefined;
  /** GRIP ordering: published once the message with this id was published on the channels (or HERALD_GRIP_PREV_ID_WAIT_MS passed). */
  prevId?: string | number | null | undefined;
  /** 1–9 (default 5): pull queues return higher priorities first. */
  priority?: number | null | undefined;
  publisherId?: string | null | undefined;
};

/** One event to publish later and/or repeatedly: the publish fields, then when. Runs fire on the cadence `publishAt + k * repeatEvery` until `repeatExpiresAt`; runs missed while no Herald instance was up collapse into one catch-up publish, then the cadence resumes. */
export type ScheduleInput = {
  channels: Array<string>;
  /** Any JSON value; a string stays a string. */
  data?: unknown;
  /** Event name (default `message`). */
  event?: string | null | undefined;
  /** When the message expires; after it, nobody receives it. */
  expiresAt?: string | null | undefined;
  /** Seconds after publishing when the message expires (not with `expiresAt`). */
  expiresIn?: number | null | undefined;
  /** String → string map; subscribers' selectors filter on it. */
  headers?: unknown;
  /** Message id; generated when absent. Scheduling an id the app already has returns that schedule. */
  id?: string | number | null | undefined;
  /** Content type of `data` (up to 200 printable ASCII characters). */
  mimeType?: string | null | undefined;
  /** 1–9 (default 5): pull queues return higher priorities first. */
  priority?: number | null | undefined;
  /** First run; not in the past. */
  publishAt: string;
  publisherId?: string | null | undefined;
  /** Seconds between runs (at least `HERALD_SCHEDULE_MIN_REPEAT_SECONDS`, default 1). */
  repeatEvery?: number | null | undefined;
  /** No run after this time; needs `repeatEvery`, not before `publishAt`. */
  repeatExpiresAt?: string | null | undefined;
};

/** GRIP `ws-message`: a WebSocket message (`content` or `contentBase64`). */
export type WsMessageFormatInput = {
  /** SEND (default) or CLOSE (CLOSE with `code`). */
  action?: GripAction | null | undefined;
  /** Close code of CLOSE. */
  code?: number | null | undefined;
  content?: string | null | undefined;
  /** The content's bytes, base64 (GRIP `content-bin`): a binary frame. */
  contentBase64?: string | null | undefined;
};

export type ChannelQueryVariables = Exact<{
  name: string;
}>;


export type ChannelQuery = { channel: { name: string, occupied: boolean, subscriptionCount: number } };

export type ChannelsQueryVariables = Exact<{
  prefix?: string | null | undefined;
  first?: number | null | undefined;
}>;


export type ChannelsQuery = { channels: Array<{ name: string, occupied: boolean, subscriptionCount: number }> };

export type MessageStatusQueryVariables = Exact<{
  id: string | number;
}>;


export type MessageStatusQuery = { messageStatus: { id: string, status: MessageStatusCode, channels: Array<string>, publishedAt: string | null, runs: number } };

export type OnChannelSubscriptionVariables = Exact<{
  name: string;
  selector?: string | null | undefined;
  token?: string | null | undefined;
  auth?: string | null | undefined;
  channelData?: string | null | undefined;
  since?: ChannelPosition | null | undefined;
}>;


export type OnChannelSubscription = { channel: { kind: ChannelEventKind, offset: number | null, epoch: string | null, recovered: boolean | null, id: string | null, channel: string, event: string, data: unknown, headers: unknown, publisherId: string | null, publishedAt: string | null, member: { userId: string, info: unknown } | null } };

export type PresenceQueryVariables = Exact<{
  channel: string;
}>;


export type PresenceQuery = { presence: { channel: string, count: number, members: Array<{ userId: string, info: unknown }> } };

export type ChannelUsersQueryVariables = Exact<{
  name: string;
}>;


export type ChannelUsersQuery = { channel: { name: string, occupied: boolean, subscriptionCount: number, userCount: number | null } };

export type TerminateUserConnectionsMutationVariables = Exact<{
  userId: string | number;
}>;


export type TerminateUserConnectionsMutation = { terminateUserConnections: boolean };

export type ChannelHistoryQueryVariables = Exact<{
  name: string;
  limit?: number | null | undefined;
  since?: ChannelPosition | null | undefined;
}>;


export type ChannelHistoryQuery = { channel: { name: string, history: { offset: number, epoch: string, recoverable: boolean, messages: Array<{ kind: ChannelEventKind, id: string | null, event: string, data: unknown, offset: number | null, epoch: string | null }> } } };

export type OnGripChannelSubscriptionVariables = Exact<{
  name: string;
  selector?: string | null | undefined;
}>;


export type OnGripChannelSubscription = { channel: { kind: ChannelEventKind, id: string | null, event: string, data: unknown, headers: unknown, prevId: string | null, formats: { httpResponse: { code: number, reason: string | null, headers: unknown, body: string | null, bodyBase64: string } | null, httpStream: { content: string | null, contentBase64: string, action: GripAction } | null, wsMessage: { content: string | null, contentBase64: string, action: GripAction, code: number | null } | null } | null } };

export type PublishMutationVariables = Exact<{
  input: PublishInput;
}>;


export type PublishMutation = { publish: { id: string, publishedAt: string, duplicate: boolean, channels: Array<{ name: string, subscriptionCount: number | null, userCount: number | null }> } };

export type TriggerBatchMutationVariables = Exact<{
  events: Array<PublishInput> | PublishInput;
}>;


export type TriggerBatchMutation = { triggerBatch: { results: Array<{ id: string, channels: Array<{ name: string, subscriptionCount: number | null }> }> } };

export type CreateQueueMutationVariables = Exact<{
  channel: string;
}>;


export type CreateQueueMutation = { createQueue: { key: string, channel: string, depth: number, dropped: number, createdAt: string } };

export type PullMutationVariables = Exact<{
  key: string | number;
  max?: number | null | undefined;
}>;


export type PullMutation = { pull: Array<{ queue: string, id: string, channel: string, event: string, data: unknown, headers: unknown, publisherId: string | null, priority: number, mimeType: string | null, expiresAt: string | null, publishedAt: string, offset: number | null, epoch: string | null }> | null };

export type DeleteQueueMutationVariables = Exact<{
  key: string | number;
}>;


export type DeleteQueueMutation = { deleteQueue: boolean };

export type QueueQueryVariables = Exact<{
  key: string | number;
}>;


export type QueueQuery = { queue: { key: string, channel: string, depth: number, dropped: number, createdAt: string } | null };

export type QueuesQueryVariables = Exact<{
  channel?: string | null | undefined;
}>;


export type QueuesQuery = { queues: Array<{ key: string, channel: string, depth: number }> };

export type OnChannelMessageSubscriptionVariables = Exact<{
  name: string;
  since?: ChannelPosition | null | undefined;
}>;


export type OnChannelMessageSubscription = { channel: { kind: ChannelEventKind, id: string | null, data: unknown, priority: number | null, mimeType: string | null, expiresAt: string | null, offset: number | null, epoch: string | null } };

export type ScheduleStatusFieldsFragment = { id: string, status: MessageStatusCode, channels: Array<string>, publishedAt: string | null, runs: number, lastPublishedAt: string | null, nextRunAt: string | null, errorMessage: string | null, repeatEvery: number | null, repeatExpiresAt: string | null };

export type ScheduleMutationVariables = Exact<{
  input: ScheduleInput;
}>;


export type ScheduleMutation = { schedule: { id: string, status: MessageStatusCode, channels: Array<string>, publishedAt: string | null, runs: number, lastPublishedAt: string | null, nextRunAt: string | null, errorMessage: string | null, repeatEvery: number | null, repeatExpiresAt: string | null } };

export type CancelScheduledMutationVariables = Exact<{
  id: string | number;
}>;


export type CancelScheduledMutation = { cancelScheduled: { id: string, status: MessageStatusCode, channels: Array<string>, publishedAt: string | null, runs: number, lastPublishedAt: string | null, nextRunAt: string | null, errorMessage: string | null, repeatEvery: number | null, repeatExpiresAt: string | null } };

export type ScheduleStatusQueryVariables = Exact<{
  id: string | number;
}>;


export type ScheduleStatusQuery = { messageStatus: { id: string, status: MessageStatusCode, channels: Array<string>, publishedAt: string | null, runs: number, lastPublishedAt: string | null, nextRunAt: string | null, errorMessage: string | null, repeatEvery: number | null, repeatExpiresAt: string | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ScheduleStatusFieldsFragmentDoc = new TypedDocumentString(`
    fragment ScheduleStatusFields on MessageStatus {
  id
  status
  channels
  publishedAt
  runs
  lastPublishedAt
  nextRunAt
  errorMessage
  repeatEvery
  repeatExpiresAt
}
    `, {"fragmentName":"ScheduleStatusFields"}) as unknown as TypedDocumentString<ScheduleStatusFieldsFragment, unknown>;
export const ChannelDocument = new TypedDocumentString(`
    query Channel($name: String!) {
  channel(name: $name) {
    name
    occupied
    subscriptionCount
  }
}
    `) as unknown as TypedDocumentString<ChannelQuery, ChannelQueryVariables>;
export const ChannelsDocument = new TypedDocumentString(`
    query Channels($prefix: String, $first: Int) {
  channels(prefix: $prefix, first: $first) {
    name
    occupied
    subscriptionCount
  }
}
    `) as unknown as TypedDocumentString<ChannelsQuery, ChannelsQueryVariables>;
export const MessageStatusDocument = new TypedDocumentString(`
    query MessageStatus($id: ID!) {
  messageStatus(id: $id) {
    id
    status
    channels
    publishedAt
    runs
  }
}
    `) as unknown as TypedDocumentString<MessageStatusQuery, MessageStatusQueryVariables>;
export const OnChannelDocument = new TypedDocumentString(`
    subscription OnChannel($name: String!, $selector: String, $token: String, $auth: String, $channelData: String, $since: ChannelPosition) {
  channel(
    name: $name
    selector: $selector
    token: $token
    auth: $auth
    channelData: $channelData
    since: $since
  ) {
    kind
    offset
    epoch
    recovered
    id
    channel
    event
    data
    headers
    publisherId
    publishedAt
    member {
      userId
      info
    }
  }
}
    `) as unknown as TypedDocumentString<OnChannelSubscription, OnChannelSubscriptionVariables>;
export const PresenceDocument = new TypedDocumentString(`
    query Presence($channel: String!) {
  presence(channel: $channel) {
    channel
    count
    members {
      userId
      info
    }
  }
}
    `) as unknown as TypedDocumentString<PresenceQuery, PresenceQueryVariables>;
export const ChannelUsersDocument = new TypedDocumentString(`
    query ChannelUsers($name: String!) {
  channel(name: $name) {
    name
    occupied
    subscriptionCount
    userCount
  }
}
    `) as unknown as TypedDocumentString<ChannelUsersQuery, ChannelUsersQueryVariables>;
export const TerminateUserConnectionsDocument = new TypedDocumentString(`
    mutation TerminateUserConnections($userId: ID!) {
  terminateUserConnections(userId: $userId)
}
    `) as unknown as TypedDocumentString<TerminateUserConnectionsMutation, TerminateUserConnectionsMutationVariables>;
export const ChannelHistoryDocument = new TypedDocumentString(`
    query ChannelHistory($name: String!, $limit: Int, $since: ChannelPosition) {
  channel(name: $name) {
    name
    history(limit: $limit, since: $since) {
      offset
      epoch
      recoverable
      messages {
        kind
        id
        event
        data
        offset
        epoch
      }
    }
  }
}
    `) as unknown as TypedDocumentString<ChannelHistoryQuery, ChannelHistoryQueryVariables>;
export const OnGripChannelDocument = new TypedDocumentString(`
    subscription OnGripChannel($name: String!, $selector: String) {
  channel(name: $name, selector: $selector) {
    kind
    id
    event
    data
    headers
    prevId
    formats {
      httpResponse {
        code
        reason
        headers
        body
        bodyBase64
      }
      httpStream {
        content
        contentBase64
        action
      }
      wsMessage {
        content
        contentBase64
        action
        code
      }
    }
  }
}
    `) as unknown as TypedDocumentString<OnGripChannelSubscription, OnGripChannelSubscriptionVariables>;
export const PublishDocument = new TypedDocumentString(`
    mutation Publish($input: PublishInput!) {
  publish(input: $input) {
    id
    publishedAt
    duplicate
    channels {
      name
      subscriptionCount
      userCount
    }
  }
}
    `) as unknown as TypedDocumentString<PublishMutation, PublishMutationVariables>;
export const TriggerBatchDocument = new TypedDocumentString(`
    mutation TriggerBatch($events: [PublishInput!]!) {
  triggerBatch(events: $events) {
    results {
      id
      channels {
        name
        subscriptionCount
      }
    }
  }
}
    `) as unknown as TypedDocumentString<TriggerBatchMutation, TriggerBatchMutationVariables>;
export const CreateQueueDocument = new TypedDocumentString(`
    mutation CreateQueue($channel: String!) {
  createQueue(channel: $channel) {
    key
    channel
    depth
    dropped
    createdAt
  }
}
    `) as unknown as TypedDocumentString<CreateQueueMutation, CreateQueueMutationVariables>;
export const PullDocument = new TypedDocumentString(`
    mutation Pull($key: ID!, $max: Int) {
  pull(key: $key, max: $max) {
    queue
    id
    channel
    event
    data
    headers
    publisherId
    priority
    mimeType
    expiresAt
    publishedAt
    offset
    epoch
  }
}
    `) as unknown as TypedDocumentString<PullMutation, PullMutationVariables>;
export const DeleteQueueDocument = new TypedDocumentString(`
    mutation DeleteQueue($key: ID!) {
  deleteQueue(key: $key)
}
    `) as unknown as TypedDocumentString<DeleteQueueMutation, DeleteQueueMutationVariables>;
export const QueueDocument = new TypedDocumentString(`
    query Queue($key: ID!) {
  queue(key: $key) {
    key
    channel
    depth
    dropped
    createdAt
  }
}
    `) as unknown as TypedDocumentString<QueueQuery, QueueQueryVariables>;
export const QueuesDocument = new TypedDocumentString(`
    query Queues($channel: String) {
  queues(channel: $channel) {
    key
    channel
    depth
  }
}
    `) as unknown as TypedDocumentString<QueuesQuery, QueuesQueryVariables>;
export const OnChannelMessageDocument = new TypedDocumentString(`
    subscription OnChannelMessage($name: String!, $since: ChannelPosition) {
  channel(name: $name, since: $since) {
    kind
    id
    data
    priority
    mimeType
    expiresAt
    offset
    epoch
  }
}
    `) as unknown as TypedDocumentString<OnChannelMessageSubscription, OnChannelMessageSubscriptionVariables>;
export const ScheduleDocument = new TypedDocumentString(`
    mutation Schedule($input: ScheduleInput!) {
  schedule(input: $input) {
    ...ScheduleStatusFields
  }
}
    fragment ScheduleStatusFields on MessageStatus {
  id
  status
  channels
  publishedAt
  runs
  lastPublishedAt
  nextRunAt
  errorMessage
  repeatEvery
  repeatExpiresAt
}`) as unknown as TypedDocumentString<ScheduleMutation, ScheduleMutationVariables>;
export const CancelScheduledDocument = new TypedDocumentString(`
    mutation CancelScheduled($id: ID!) {
  cancelScheduled(id: $id) {
    ...ScheduleStatusFields
  }
}
    fragment ScheduleStatusFields on MessageStatus {
  id
  status
  channels
  publishedAt
  runs
  lastPublishedAt
  nextRunAt
  errorMessage
  repeatEvery
  repeatExpiresAt
}`) as unknown as TypedDocumentString<CancelScheduledMutation, CancelScheduledMutationVariables>;
export const ScheduleStatusDocument = new TypedDocumentString(`
    query ScheduleStatus($id: ID!) {
  messageStatus(id: $id) {
    ...ScheduleStatusFields
  }
}
    fragment ScheduleStatusFields on MessageStatus {
  id
  status
  channels
  publishedAt
  runs
  lastPublishedAt
  nextRunAt
  errorMessage
  repeatEvery
  repeatExpiresAt
}`) as unknown as TypedDocumentString<ScheduleStatusQuery, ScheduleStatusQueryVariables>;