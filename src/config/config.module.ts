import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule as EnvironmentModule } from '@nestjs/config';
import { APP_CONFIG, loadConfig, type AppConfig } from './configuration.js';

/**
 * Reads `.env` and the environment through @nestjs/config (variables set in the environment win) and validates
 * them once with `loadConfig`, the schema of every variable. Throws a ConfigError naming the first bad variable.
 */
export async function readConfig(): Promise<AppConfig> {
  let config: AppConfig | undefined;
  await EnvironmentModule.forRoot({
    validate: (variables) => {
      config = loadConfig(variables);
      return variables;
    },
  });
  return config!;
}

/** The one configuration object, injected as APP_CONFIG everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
