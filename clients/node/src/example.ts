// Calls Embed, Classify and GenerateStream through a Modelport router.
//   npm run example -- 127.0.0.1:50051
import { call, connect, deadline } from "./client.js";
import type { EmbedResponse__Output } from "../generated/modelport/v1/EmbedResponse.js";
import type { ClassifyResponse__Output } from "../generated/modelport/v1/ClassifyResponse.js";

const target = process.argv[2] ?? process.env.MODELPORT_TARGET ?? "127.0.0.1:50051";
const client = connect(target);

async function main(): Promise<void> {
  const embeddings = await call<EmbedResponse__Output>((cb) =>
    client.embedding.Embed(
      { model: { name: "all-MiniLM-L6-v2" }, inputs: ["hello world"] },
      { deadline: deadline(30) },
      cb,
    ),
  );
  console.log(`embedding: ${embeddings.embeddings[0].values.length} dimensions`);
  const sentiment = await call<ClassifyResponse__Output>((cb) =>
    client.nlp.Classify(
      { model: { name: "sentiment" }, inputs: ["I love this"] },
      { deadline: deadline(30) },
      cb,
    ),
  );
  const best = sentiment.results[0].labels[0];
  console.log(`sentiment: ${best.label} ${best.score.toFixed(3)}`);
  const stream = client.nlp.GenerateStream(
    { model: { name: "gemma-3-270m" }, prompts: ["Once upon a time"],
      parameters: { maxNewTokens: 16 } },
    { deadline: deadline(120) },
  );
  process.stdout.write("generate: Once upon a time");
  for await (const chunk of stream) {
    process.stdout.write(chunk.text);
  }
  process.stdout.write("\n");
  client.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
