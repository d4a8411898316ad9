/** The little of the `fastly` client (no types of its own) that the GRIP tests use. */
declare module "fastly" {
  class ApiClient {
    authenticate(token: string): void;
    buildUrl(path: string, pathParams: object, pathParamsAllowReserved: object, apiBasePath?: string): string;
  }
  class PublishApi {
    constructor(client?: ApiClient);
    publish(options: { service_id: string; publish_request: PublishRequest }): Promise<string>;
  }
  class PublishRequest {
    static constructFromObject(data: { items: object[] }): PublishRequest;
  }
  const Fastly: { ApiClient: typeof ApiClient; PublishApi: typeof PublishApi; PublishRequest: typeof PublishRequest };
  export default Fastly;
}
