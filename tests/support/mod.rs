pub mod mock_idp;
pub mod run;
