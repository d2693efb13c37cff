/** Jobs: the job model, the coordinator's pure brain, and one folder per job kind's pure part. */
export * from './job';
export * from './job-size';
export * from './history';
export * from './rows';
export * from './constants';
export * from './coordinator';
export * from './inference';
export * from './kind';
export * from './train';
