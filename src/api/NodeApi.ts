/** `node` group of the control API: what this node is. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { NodeInfo } from "./schemas.ts"

export class NodeApi extends HttpApiGroup.make("node")
  .add(
    HttpApiEndpoint.get("info", "/v1/info", { success: NodeInfo }).annotate(
      OpenApi.Description,
      "Node id, init features, the address peers connect to, the network (name and chain hash), and the chain tip's height (`blockHeight`) when the node follows a chain."
    )
  )
  .annotateMerge(OpenApi.annotations({ title: "Node" }))
{}
