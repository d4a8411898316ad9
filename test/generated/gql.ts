/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query Channel($name: String!) {\n  channel(name: $name) {\n    name\n    occupied\n    subscriptionCount\n  }\n}\n\nquery Channels($prefix: String, $first: Int) {\n  channels(prefix: $prefix, first: $first) {\n    name\n    occupied\n    subscriptionCount\n  }\n}\n\nquery MessageStatus($id: ID!) {\n  messageStatus(id: $id) {\n    id\n    status\n    channels\n    publishedAt\n    runs\n  }\n}\n\nsubscription OnChannel($name: String!, $selector: String) {\n  channel(name: $name, selector: $selector) {\n    kind\n    id\n    channel\n    event\n    data\n    headers\n    publisherId\n    publishedAt\n  }\n}": typeof types.ChannelDocument,
    "mutation Publish($input: PublishInput!) {\n  publish(input: $input) {\n    id\n    publishedAt\n    channels {\n      name\n      subscriptionCount\n      userCount\n    }\n  }\n}\n\nmutation TriggerBatch($events: [PublishInput!]!) {\n  triggerBatch(events: $events) {\n    results {\n      id\n      channels {\n        name\n        subscriptionCount\n      }\n    }\n  }\n}": typeof types.PublishDocument,
};
const documents: Documents = {
    "query Channel($name: String!) {\n  channel(name: $name) {\n    name\n    occupied\n    subscriptionCount\n  }\n}\n\nquery Channels($prefix: String, $first: Int) {\n  channels(prefix: $prefix, first: $first) {\n    name\n    occupied\n    subscriptionCount\n  }\n}\n\nquery MessageStatus($id: ID!) {\n  messageStatus(id: $id) {\n    id\n    status\n    channels\n    publishedAt\n    runs\n  }\n}\n\nsubscription OnChannel($name: String!, $selector: String) {\n  channel(name: $name, selector: $selector) {\n    kind\n    id\n    channel\n    event\n    data\n    headers\n    publisherId\n    publishedAt\n  }\n}": types.ChannelDocument,
    "mutation Publish($input: PublishInput!) {\n  publish(input: $input) {\n    id\n    publishedAt\n    channels {\n      name\n      subscriptionCount\n      userCount\n    }\n  }\n}\n\nmutation TriggerBatch($events: [PublishInput!]!) {\n  triggerBatch(events: $events) {\n    results {\n      id\n      channels {\n        name\n        subscriptionCount\n      }\n    }\n  }\n}": types.PublishDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Channel($name: String!) {\n  channel(name: $name) {\n    name\n    occupied\n    subscriptionCount\n  }\n}\n\nquery Channels($prefix: String, $first: Int) {\n  channels(prefix: $prefix, first: $first) {\n    name\n    occupied\n    subscriptionCount\n  }\n}\n\nquery MessageStatus($id: ID!) {\n  messageStatus(id: $id) {\n    id\n    status\n    channels\n    publishedAt\n    runs\n  }\n}\n\nsubscription OnChannel($name: String!, $selector: String) {\n  channel(name: $name, selector: $selector) {\n    kind\n    id\n    channel\n    event\n    data\n    headers\n    publisherId\n    publishedAt\n  }\n}"): typeof import('./graphql.js').ChannelDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Publish($input: PublishInput!) {\n  publish(input: $input) {\n    id\n    publishedAt\n    channels {\n      name\n      subscriptionCount\n      userCount\n    }\n  }\n}\n\nmutation TriggerBatch($events: [PublishInput!]!) {\n  triggerBatch(events: $events) {\n    results {\n      id\n      channels {\n        name\n        subscriptionCount\n      }\n    }\n  }\n}"): typeof import('./graphql.js').PublishDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
