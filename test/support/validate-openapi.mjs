// Validates the OpenAPI document read from stdin with @apidevtools/swagger-parser; prints the problem and exits 1 if invalid.
// Run as its own process: the validator is CommonJS that require()s an ES module, which jest's module runtime cannot load.
import SwaggerParser from '@apidevtools/swagger-parser';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
try {
  await SwaggerParser.validate(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  console.log('valid');
} catch (error) {
  console.log(error.message);
  process.exit(1);
}
