/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** What a `ChannelEvent` reports. */
export type ChannelEventKind =
  /** A published message. */
  | 'MESSAGE'
  /** First event of every subscription: from here on nothing published is missed. */
  | 'SUBSCRIBED';

/** Counts a publish may return per channel. */
export type ChannelInfoField =
  | 'SUBSCRIPTION_COUNT'
  | 'USER_COUNT';

export type MessageStatusCode =
  | 'CANCELLED'
  | 'FAILED'
  | 'PUBLISHED'
  | 'SCHEDULED'
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
  /** String → string map; subscribers' selectors filter on it. */
  headers?: unknown;
  /** Message id; generated when absent. */
  id?: string | number | null | undefined;
  /** Counts to return per channel. */
  info?: Array<ChannelInfoField> | null | undefined;
  publisherId?: string | null | undefined;
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
}>;


export type OnChannelSubscription = { channel: { kind: ChannelEventKind, id: string | null, channel: string, event: string, data: unknown, headers: unknown, publisherId: string | null, publishedAt: string | null } };

export type PublishMutationVariables = Exact<{
  input: PublishInput;
}>;


export type PublishMutation = { publish: { id: string, publishedAt: string, channels: Array<{ name: string, subscriptionCount: number | null, userCount: number | null }> } };

export type TriggerBatchMutationVariables = Exact<{
  events: Array<PublishInput> | PublishInput;
}>;


export type TriggerBatchMutation = { triggerBatch: { results: Array<{ id: string, channels: Array<{ name: string, subscriptionCount: number | null }> }> } };

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
    subscription OnChannel($name: String!, $selector: String) {
  channel(name: $name, selector: $selector) {
    kind
    id
    channel
    event
    data
    headers
    publisherId
    publishedAt
  }
}
    `) as unknown as TypedDocumentString<OnChannelSubscription, OnChannelSubscriptionVariables>;
export const PublishDocument = new TypedDocumentString(`
    mutation Publish($input: PublishInput!) {
  publish(input: $input) {
    id
    publishedAt
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